// Provider presets end to end: one gateway with one source per preset (named
// like the preset, auth: none); every case under tests/data/providers/ is
// posted to /webhooks/<preset><path_suffix> and each stored document must
// contain the case's "expect".
//
// A case file is JSON:
//   description   what the case is
//   path_suffix   "" or e.g. "/ticket.updated" (the event type in the path)
//   headers       extra request headers (event-type or delivery-id headers)
//   body          the payload; sent as JSON.stringify(body) unless "raw" is
//                 given, which is sent byte for byte instead
//   expect        a subset of the normalized document (never id, source,
//                 received_at or dedupe_key); a null in it means "absent or
//                 null"; arrays must match in length, element by element
//   expect_count  only for array presets: how many events the request
//                 stores; "expect" is then a list, one per event, in order
//
// Presets that build/deskhook does not know (not yet listed in meson.build)
// fail with a message that says so; the other presets still run.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { ROOT, BIN, start, cleanup, run, tempDir } from './lib/gateway.mjs';

const CASES_DIR = `${ROOT}/tests/data/providers`;
const PRESETS_DIR = `${ROOT}/providers`;
const FORBIDDEN_EXPECT_KEYS = ['id', 'source', 'received_at', 'dedupe_key'];
const CANONICAL_PREFIXES = ['ticket.', 'customer.', 'message.', 'metadata.'];
const TOP_LEVEL_FIELDS = ['platform', 'metadata'];
const EVENT_TYPE_RE = /^[A-Za-z0-9._:-]{1,64}$/;

// ---------------------------------------------------------------------------
// Cases and presets on disk (read when the file loads, so every case becomes
// its own test).

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function listPresetFiles() {
  return fs.readdirSync(PRESETS_DIR).filter((f) => f.endsWith('.json')).sort()
    .map((f) => ({ name: f.slice(0, -5), file: `${PRESETS_DIR}/${f}` }));
}

function listCases() {
  const out = [];
  if (!fs.existsSync(CASES_DIR)) return out;
  for (const preset of fs.readdirSync(CASES_DIR).sort()) {
    const dir = `${CASES_DIR}/${preset}`;
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) {
      out.push({ preset, name: f.slice(0, -5), file: `${dir}/${f}` });
    }
  }
  return out;
}

const presetFiles = listPresetFiles();
const cases = listCases();
const casePresets = [...new Set(cases.map((c) => c.preset))];

// ---------------------------------------------------------------------------
// Subset comparison with a readable list of differences.

const show = (v) => (v === undefined ? 'nothing' : JSON.stringify(v));

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// Appends to out one line per place where actual does not contain expected.
function diffSubset(actual, expected, where, out) {
  const at = where || '(document)';
  if (expected === null) {
    if (actual !== undefined && actual !== null) out.push(`${at}: expected absent or null, got ${show(actual)}`);
    return out;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) {
      out.push(`${at}: expected an array ${show(expected)}, got ${show(actual)}`);
      return out;
    }
    if (actual.length !== expected.length) {
      out.push(`${at}: expected ${expected.length} elements ${show(expected)}, got ${actual.length} ${show(actual)}`);
      return out;
    }
    expected.forEach((e, i) => diffSubset(actual[i], e, `${where}[${i}]`, out));
    return out;
  }
  if (isObject(expected)) {
    if (!isObject(actual)) {
      out.push(`${at}: expected an object containing ${show(expected)}, got ${show(actual)}`);
      return out;
    }
    for (const k of Object.keys(expected)) diffSubset(actual[k], expected[k], where ? `${where}.${k}` : k, out);
    return out;
  }
  if (actual !== expected) out.push(`${at}: expected ${show(expected)}, got ${show(actual)}`);
  return out;
}

function assertContains(doc, expected, label) {
  const diffs = diffSubset(doc, expected, '', []);
  if (diffs.length === 0) return;
  const { raw, ...shown } = doc || {};
  assert.fail(`${label}: the stored document does not contain what the case expects:\n  - `
    + `${diffs.join('\n  - ')}\nstored document (raw left out):\n${JSON.stringify(shown, null, 2)}`);
}

// ---------------------------------------------------------------------------
// The gateway.

let g = null;
let startError = null;
let known = new Set();   // presets the binary knows
let unknownReason = '';

function configFor(presets) {
  const lines = [
    'listen: 127.0.0.1:0',
    'admin: {listen: 127.0.0.1:0, token: "${DESKHOOK_ADMIN_TOKEN}"}',
    'store: sqlite:deskhook.db',
    'dedupe_window: 24h',
    'log: {level: info, access: false}',
    'sources:',
  ];
  for (const p of presets) lines.push(`  - name: ${p}`, `    preset: ${p}`, '    auth: none');
  return `${lines.join('\n')}\n`;
}

before(async () => {
  const wanted = [...new Set([...casePresets, ...presetFiles.map((p) => p.name)])].sort();
  // Ask `deskhook check` which presets are compiled in, so one missing preset
  // does not take every other case down with it.
  const dir = tempDir('deskhook-providers-check-');
  fs.writeFileSync(`${dir}/check.yaml`, configFor(wanted));
  const r = run(['check', '-c', `${dir}/check.yaml`]);
  const missing = new Set();
  for (const m of r.stderr.matchAll(/preset "([^"]+)" is not known(?: \(known presets: ([^)]*)\))?/g)) {
    missing.add(m[1]);
    if (m[2] !== undefined) unknownReason = `known presets: ${m[2]}`;
  }
  if (r.code !== 0 && missing.size === 0) {
    startError = new Error(`deskhook check failed on the providers config:\n${r.stderr}`);
    return;
  }
  known = new Set(wanted.filter((p) => !missing.has(p)));
  if (known.size === 0) return;
  try {
    g = await start(configFor([...known]));
  } catch (err) {
    startError = err;
  }
});

after(() => cleanup(g));

function requireGateway(preset) {
  if (startError) throw startError;
  assert.ok(known.has(preset),
    `preset "${preset}" is not compiled into ${BIN} (${unknownReason || 'unknown preset'}); `
    + `providers/${preset}.json must be listed in preset_files in meson.build and the binary rebuilt`);
  assert.ok(g, 'the gateway did not start');
}

// ---------------------------------------------------------------------------
// The preset files themselves: the shape docs/internals/presets.md describes.

for (const { name, file } of presetFiles) {
  test(`preset file providers/${name}.json`, () => {
    const p = readJson(file);
    assert.equal(p.name, name, 'name is the file name');
    for (const k of ['provider', 'description', 'signature']) {
      assert.equal(typeof p[k], 'string', `${k} is a string`);
      assert.ok(p[k].length > 0, `${k} is not empty`);
    }
    if ('signature_scheme' in p) {
      assert.ok(p.signature_scheme === null || typeof p.signature_scheme === 'string',
        'signature_scheme is a scheme name or null');
    }
    if ('events' in p) assert.equal(p.events, 'array', 'events is "array" when present');
    if ('unwrap' in p) assert.ok(Array.isArray(p.unwrap), 'unwrap is a list');
    if ('required' in p) assert.ok(Array.isArray(p.required), 'required is a list');
    const et = p.event_type || {};
    if (et.paths !== undefined) assert.ok(Array.isArray(et.paths), 'event_type.paths is a list');
    if (et.header !== undefined && et.header !== null) assert.equal(typeof et.header, 'string');
    if (et.strip_prefix !== undefined) assert.equal(typeof et.strip_prefix, 'string');
    for (const [from, to] of Object.entries(et.map || {})) {
      assert.match(to, EVENT_TYPE_RE, `event_type.map ${from} -> ${to} is a valid event type`);
    }
    assert.ok(isObject(p.fields), 'fields is an object');
    for (const [target, spec] of Object.entries(p.fields)) {
      assert.ok(TOP_LEVEL_FIELDS.includes(target) || CANONICAL_PREFIXES.some((x) => target.startsWith(x)),
        `field ${target} is a ticket-model field`);
      assert.ok(Array.isArray(spec.paths), `${target}: paths is a list`);
      assert.ok(spec.paths.length > 0 || spec.default !== undefined, `${target}: has paths or a default`);
      if (spec.type !== undefined) assert.ok(['string', 'any'].includes(spec.type), `${target}: type`);
      if (spec.transform !== undefined) {
        assert.ok(['lower', 'html_to_text'].includes(spec.transform), `${target}: transform`);
      }
      if (spec.map !== undefined) {
        assert.ok(isObject(spec.map), `${target}: map is an object`);
        for (const v of Object.values(spec.map)) assert.equal(typeof v, 'string', `${target}: map values`);
      }
    }
    const n = cases.filter((c) => c.preset === name).length;
    assert.ok(n >= 2, `tests/data/providers/${name}/ has at least two cases (has ${n})`);
  });
}

// ---------------------------------------------------------------------------
// One test per case.

for (const c of cases) {
  test(`${c.preset}/${c.name}`, async () => {
    const data = readJson(c.file);
    assert.equal(typeof data.description, 'string', 'the case has a description');
    const arrayCase = data.expect_count !== undefined;
    const expects = arrayCase ? data.expect : [data.expect];
    assert.ok(Array.isArray(expects), 'expect is a list when expect_count is given');
    if (arrayCase) assert.equal(expects.length, data.expect_count, 'one expect per stored event');
    for (const e of expects) {
      assert.ok(isObject(e), 'each expect is an object');
      for (const k of FORBIDDEN_EXPECT_KEYS) assert.ok(!(k in e), `expect must not name ${k}`);
    }

    requireGateway(c.preset);
    const body = data.raw !== undefined ? data.raw : JSON.stringify(data.body);
    const url = `/webhooks/${c.preset}${data.path_suffix || ''}`;
    const r = await g.post(url, body, { headers: data.headers || {} });
    assert.equal(r.status, 200, `POST ${url}: ${r.status} ${r.text}`);
    assert.ok(r.json, `POST ${url}: the answer is JSON: ${r.text}`);
    assert.equal(r.json.status, 'accepted',
      `POST ${url}: ${r.text} (a duplicate means another case of ${c.preset} has the same body or delivery id)`);

    let ids;
    if (arrayCase) {
      assert.ok(Array.isArray(r.json.ids), `an array preset answers with ids: ${r.text}`);
      ids = r.json.ids;
      assert.equal(ids.length, data.expect_count, `events stored: ${r.text}`);
      assert.equal(new Set(ids).size, ids.length, `every element is its own event: ${r.text}`);
    } else {
      assert.equal(typeof r.json.id, 'string', `the answer names the event: ${r.text}`);
      ids = [r.json.id];
    }

    for (let i = 0; i < ids.length; i++) {
      const got = await g.admin(`/api/events/${encodeURIComponent(ids[i])}`);
      assert.equal(got.status, 200, `GET /api/events/${ids[i]}: ${got.status} ${got.text}`);
      const label = arrayCase ? `event ${i + 1} of ${ids.length} (${ids[i]})` : `event ${ids[i]}`;
      assert.equal(got.json.source, c.preset, `${label}: source`);
      assertContains(got.json, expects[i], label);
    }
  });
}

test('every case directory names a preset file', () => {
  const names = new Set(presetFiles.map((p) => p.name));
  const stray = casePresets.filter((p) => !names.has(p));
  assert.deepEqual(stray, [], `tests/data/providers/ has cases for presets without providers/<name>.json: ${stray}`);
  assert.ok(cases.length > 0, `cases found under ${path.relative(ROOT, CASES_DIR)}`);
});
