// `deskhook replay` against a running gateway's admin API (docs/delivery.md,
// "Replay from the command line"). The command finds the gateway with
// --admin-url / DESKHOOK_ADMIN_URL, --token / DESKHOOK_ADMIN_TOKEN, or
// admin.listen and admin.token from -c FILE; flags beat the environment,
// which beats the file. It prints the API's JSON answer and exits 0, exits 1
// with "deskhook replay: <code>: <message>" on an error answer or when the
// gateway cannot be reached, and 2 on a usage error. The token is never
// printed.
//
// Every command runs with HTTP_PROXY and friends pointing at a closed port:
// the admin client must not use a proxy from the environment.
//
// The last part drives real deliveries: an endpoint whose receiver (a local
// HTTP server in this process) answers 400, so each delivery is dead after
// one attempt; replaying must send it again with the same webhook-id.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { Webhook } from 'standardwebhooks';
import {
  ADMIN_TOKEN, BIN, baseEnv, requireBuilt, start, cleanup, standardConfig, tempDir, nonce, sleep,
} from './lib/gateway.mjs';

const UNKNOWN_MSG = 'msg_01JD6W8Q4M2V7Y3X9K5T0B1C2D';
const UNKNOWN_EVT = 'evt_01JD6W8Q4M2V7Y3X9K5T0B1C2D';
const DEAD_PROXY = 'http://127.0.0.1:9';

// The environment of one command: the suite's (which carries
// DESKHOOK_ADMIN_TOKEN), no DESKHOOK_ADMIN_URL, an unusable proxy, then
// extra (a null value removes the variable).
function cliEnv(extra = {}) {
  const env = baseEnv({
    HTTP_PROXY: DEAD_PROXY, http_proxy: DEAD_PROXY, HTTPS_PROXY: DEAD_PROXY,
    https_proxy: DEAD_PROXY, ALL_PROXY: DEAD_PROXY, all_proxy: DEAD_PROXY,
  });
  delete env.DESKHOOK_ADMIN_URL;
  delete env.NO_PROXY;
  delete env.no_proxy;
  for (const [k, v] of Object.entries(extra)) {
    if (v === null) delete env[k];
    else env[k] = v;
  }
  return env;
}

// Runs `deskhook replay ...args`. Asynchronous, so the gateway and the
// receiver in this process keep being served while it runs.
function replay(args, o = {}) {
  requireBuilt(false);
  return new Promise((resolve, reject) => {
    const p = spawn(BIN, ['replay', ...args], { env: cliEnv(o.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), o.timeout || 20000);
    p.stdout.setEncoding('utf8');
    p.stderr.setEncoding('utf8');
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('error', (e) => { clearTimeout(timer); reject(e); });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      let json;
      try { json = JSON.parse(stdout); } catch { json = undefined; }
      resolve({ code, signal, stdout, stderr, json });
    });
  });
}

const show = (r) => `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

// The error line the command prints for an API error: {code, message}.
function apiError(r) {
  const m = /^deskhook replay: ([a-z_]+): (.*)$/m.exec(r.stderr);
  return m ? { code: m[1], message: m[2] } : undefined;
}

function usageError(r, what) {
  assert.equal(r.code, 2, `${what}: ${show(r)}`);
  assert.match(r.stderr, /usage: deskhook replay/, `${what}: usage on stderr`);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
}

// An error answer from the gateway: exit 1, "deskhook replay: code: message".
function failedWith(r, code, what) {
  assert.equal(r.code, 1, `${what}: ${show(r)}`);
  assert.equal(apiError(r)?.code, code, `${what}: ${show(r)}`);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
}

// The gateway was reached and took the token: an answer other than
// unauthorized, and no connection failure. (Whatever the API says about the
// unknown delivery is checked in its own test.)
function reachedWithToken(r, what) {
  assert.doesNotMatch(r.stderr, /cannot reach|no admin token|port 0/, `${what}: ${show(r)}`);
  const e = apiError(r);
  assert.ok(r.code === 0 || e, `${what}: an API answer: ${show(r)}`);
  assert.notEqual(e?.code, 'unauthorized', `${what}: the token was accepted: ${show(r)}`);
}

function noSecret(r, secret, what) {
  assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), `${what}: the token is not printed: ${show(r)}`);
}

// A TCP port that was free a moment ago.
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function until(what, fn, timeoutMs = 15000, stepMs = 50) {
  const t0 = Date.now();
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

// ---------------------------------------------------------------------------

describe('deskhook replay: usage', () => {
  // None of these may contact anything: the URL is a closed port.
  const url = ['--admin-url', 'http://127.0.0.1:9'];
  const cases = [
    ['no target', []],
    ['two delivery ids', [UNKNOWN_MSG, 'msg_01JD6W8Q4M2V7Y3X9K5T0B1C2E']],
    ['an id and --event', [UNKNOWN_MSG, '--event', UNKNOWN_EVT]],
    ['--event and --endpoint', ['--event', UNKNOWN_EVT, '--endpoint', 'crm']],
    ['--state without --endpoint', [UNKNOWN_MSG, '--state', 'dead']],
    ['--since with --event', ['--event', UNKNOWN_EVT, '--since', '2026-11-01T00:00:00Z']],
    ['an unknown option', ['--bogus', UNKNOWN_MSG]],
    ['--event without a value', ['--event']],
    ['--endpoint without a value', ['--endpoint']],
    ['an empty endpoint name', ['--endpoint', '']],
    ['an event id given as a delivery id', [UNKNOWN_EVT]],
  ];
  for (const [what, args] of cases) {
    it(`${what} exits 2 with the usage`, async () => {
      usageError(await replay([...url, ...args]), what);
    });
  }

  it('--help prints the usage on stdout and exits 0', async () => {
    const r = await replay(['--help']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /usage: deskhook replay/);
    for (const opt of ['--event', '--endpoint', '--state', '--since', '--until', '--admin-url', '--token', '--config']) {
      assert.ok(r.stdout.includes(opt), `--help mentions ${opt}`);
    }
    assert.equal(r.stderr, '');
  });

  it('an admin URL that is not http(s) is a usage error (exit 2)', async () => {
    const r = await replay(['--admin-url', 'ftp://127.0.0.1:9', UNKNOWN_MSG]);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /http:\/\/ or https:\/\//);
  });
});

describe('deskhook replay: finding the gateway', () => {
  let g;
  before(async () => { g = await start(standardConfig()); });
  after(() => cleanup(g));

  it('without any token it exits 1 and says how to give one', async () => {
    const r = await replay(['--admin-url', g.adminUrl, UNKNOWN_MSG], { env: { DESKHOOK_ADMIN_TOKEN: null } });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /token/);
    assert.match(r.stderr, /--token|DESKHOOK_ADMIN_TOKEN/);
  });

  it('an empty DESKHOOK_ADMIN_TOKEN counts as none', async () => {
    const r = await replay(['--admin-url', g.adminUrl, UNKNOWN_MSG], { env: { DESKHOOK_ADMIN_TOKEN: '' } });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /token/);
  });

  it('a wrong --token gets unauthorized (exit 1) and is not printed', async () => {
    const wrong = `wrong-${nonce()}`;
    const r = await replay(['--admin-url', g.adminUrl, '--token', wrong, UNKNOWN_MSG]);
    failedWith(r, 'unauthorized', 'wrong --token');
    noSecret(r, wrong, 'wrong --token');
  });

  it('a wrong DESKHOOK_ADMIN_TOKEN gets unauthorized', async () => {
    const wrong = `wrong-${nonce()}`;
    const r = await replay(['--admin-url', g.adminUrl, '--endpoint', 'crm'], { env: { DESKHOOK_ADMIN_TOKEN: wrong } });
    failedWith(r, 'unauthorized', 'wrong DESKHOOK_ADMIN_TOKEN');
    noSecret(r, wrong, 'wrong DESKHOOK_ADMIN_TOKEN');
  });

  it('--token wins over DESKHOOK_ADMIN_TOKEN', async () => {
    let r = await replay(['--admin-url', g.adminUrl, '--token', 'not-the-token', UNKNOWN_MSG]);
    failedWith(r, 'unauthorized', '--token beats a right variable');
    r = await replay(['--admin-url', g.adminUrl, '--token', ADMIN_TOKEN, UNKNOWN_MSG],
      { env: { DESKHOOK_ADMIN_TOKEN: 'not-the-token' } });
    reachedWithToken(r, '--token beats a wrong variable');
    noSecret(r, ADMIN_TOKEN, '--token');
  });

  it('DESKHOOK_ADMIN_URL is used without --admin-url, and --admin-url wins over it', async () => {
    let r = await replay([UNKNOWN_MSG], { env: { DESKHOOK_ADMIN_URL: g.adminUrl } });
    reachedWithToken(r, 'DESKHOOK_ADMIN_URL');
    const dead = await freePort();
    r = await replay(['--admin-url', `http://127.0.0.1:${dead}`, UNKNOWN_MSG], { env: { DESKHOOK_ADMIN_URL: g.adminUrl } });
    assert.equal(r.code, 1, show(r));
    assert.ok(r.stderr.includes(`http://127.0.0.1:${dead}`), `the flag's URL was used: ${show(r)}`);
  });

  it('an admin URL with a trailing slash works', async () => {
    reachedWithToken(await replay(['--admin-url', `${g.adminUrl}/`, UNKNOWN_MSG]), 'trailing slash');
  });

  it('an unreachable URL exits 1 naming the URL, without printing the token', async () => {
    const port = await freePort();
    const secret = `secret-${nonce()}`;
    const r = await replay(['--admin-url', `http://127.0.0.1:${port}`, '--token', secret, UNKNOWN_MSG]);
    assert.equal(r.code, 1, show(r));
    assert.ok(r.stderr.includes(`http://127.0.0.1:${port}`), `names the URL: ${show(r)}`);
    assert.match(r.stderr, /^deskhook replay: /m);
    assert.equal(r.stdout, '');
    noSecret(r, secret, 'unreachable');
  });

  it('-c FILE with port 0 in admin.listen: the token comes from the file, the port from --admin-url', async () => {
    const dir = tempDir();
    const file = `${dir}/cli.yaml`;
    fs.writeFileSync(file, `admin: {listen: 127.0.0.1:0, token: "${ADMIN_TOKEN}"}\n`);
    const env = { DESKHOOK_ADMIN_TOKEN: null };
    let r = await replay(['-c', file, '--admin-url', g.adminUrl, UNKNOWN_MSG], { env });
    reachedWithToken(r, '-c FILE --admin-url');
    noSecret(r, ADMIN_TOKEN, '-c FILE');
    // Alone, a file with port 0 cannot say where the gateway is.
    r = await replay(['-c', file, UNKNOWN_MSG], { env });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /port 0/);
    assert.match(r.stderr, /--admin-url/);
    // The environment's token wins over the file's.
    r = await replay(['-c', file, '--admin-url', g.adminUrl, UNKNOWN_MSG], { env: { DESKHOOK_ADMIN_TOKEN: 'not-the-token' } });
    failedWith(r, 'unauthorized', 'DESKHOOK_ADMIN_TOKEN beats the file');
  });

  it('-c FILE that cannot be read exits 1 naming it', async () => {
    const r = await replay(['-c', '/nonexistent/deskhook.yaml', UNKNOWN_MSG]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /\/nonexistent\/deskhook\.yaml/);
  });

  it('-c FILE whose admin.token is an unset variable says so', async () => {
    const dir = tempDir();
    const file = `${dir}/cli.yaml`;
    fs.writeFileSync(file, 'admin: {listen: 127.0.0.1:8081, token: "${DH_E2E_UNSET_TOKEN_VAR}"}\n');
    const r = await replay(['-c', file, UNKNOWN_MSG], { env: { DESKHOOK_ADMIN_TOKEN: null, DH_E2E_UNSET_TOKEN_VAR: null } });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /DH_E2E_UNSET_TOKEN_VAR/);
    assert.match(r.stderr, /no admin token/);
  });
});

describe('deskhook replay -c FILE with a fixed admin port', () => {
  let g;
  let port;
  const token = `file-token-${nonce()}`;
  before(async () => {
    port = await freePort();
    // The gateway's own config names the port and the token; the file is
    // otherwise an ordinary config (sources and all).
    const text = standardConfig()
      .replace(/^admin: .*$/m, `admin: {listen: 127.0.0.1:${port}, token: "${token}"}`);
    g = await start(text, { adminListen: `127.0.0.1:${port}` });
  });
  after(() => cleanup(g));

  it('finds the admin listener and the token in the gateway\'s own config', async () => {
    const r = await replay(['-c', g.configPath, UNKNOWN_MSG], { env: { DESKHOOK_ADMIN_TOKEN: null } });
    reachedWithToken(r, '-c FILE');
    noSecret(r, token, '-c FILE');
  });

  it('a listen address of 0.0.0.0 in the file means loopback', async () => {
    const file = `${g.dir}/wildcard.yaml`;
    fs.writeFileSync(file, `admin:\n  listen: "0.0.0.0:${port}"\n  token: "${token}"\n`);
    reachedWithToken(await replay(['-c', file, UNKNOWN_MSG], { env: { DESKHOOK_ADMIN_TOKEN: null } }), '0.0.0.0');
  });

  it('a file with a wrong token gets unauthorized', async () => {
    const file = `${g.dir}/wrong.yaml`;
    fs.writeFileSync(file, `admin: {listen: 127.0.0.1:${port}, token: "not-${token}"}\n`);
    const r = await replay(['-c', file, UNKNOWN_MSG], { env: { DESKHOOK_ADMIN_TOKEN: null } });
    failedWith(r, 'unauthorized', 'wrong token in the file');
    noSecret(r, `not-${token}`, 'wrong token in the file');
  });

  it('--token wins over the file', async () => {
    const r = await replay(['-c', g.configPath, '--token', 'not-the-token', UNKNOWN_MSG], { env: { DESKHOOK_ADMIN_TOKEN: null } });
    failedWith(r, 'unauthorized', '--token beats the file');
  });
});

describe('deskhook replay: error answers', () => {
  let g;
  before(async () => { g = await start(standardConfig()); });
  after(() => cleanup(g));

  it('an unknown delivery: exit 1, not_found', async () => {
    const r = await replay(['--admin-url', g.adminUrl, UNKNOWN_MSG]);
    failedWith(r, 'not_found', 'unknown delivery');
    assert.ok(apiError(r).message.length > 0, 'with a message');
  });

  it('an unknown event: exit 1, not_found', async () => {
    failedWith(await replay(['--admin-url', g.adminUrl, '--event', UNKNOWN_EVT]), 'not_found', 'unknown event');
  });

  it('an unknown endpoint: exit 1, not_found', async () => {
    failedWith(await replay(['--admin-url', g.adminUrl, '--endpoint', `nope-${nonce()}`]), 'not_found', 'unknown endpoint');
  });
});

// ---------------------------------------------------------------------------
// Real deliveries. These need the delivery engine and its admin API.

describe('deskhook replay: deliveries', () => {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const wh = new Webhook(secret);
  const got = []; // {headers, body} of every request the receiver saw
  let receiver;
  let g;

  const admin = async (p) => {
    const r = await g.admin(p);
    assert.equal(r.status, 200, `GET ${p}: ${r.status} ${r.text.slice(0, 300)}`);
    return r.json;
  };
  const requestsFor = (msgId) => got.filter((q) => q.headers['webhook-id'] === msgId);
  const deliveryState = async (msgId) => (await admin(`/api/deliveries/${msgId}`)).state;
  // Nothing left to send: every delivery delivered or dead.
  const settled = async () => {
    const d = (await admin('/api/stats')).deliveries;
    return d && d.pending + d.in_flight + d.retry_wait === 0 ? d : null;
  };

  // Posts an event to the auth: none source; returns {eventId, msgId} once
  // its first attempt reached the receiver and it is dead.
  async function deadDelivery() {
    const r = await g.post('/webhooks/testing', { title: `replay ${nonce()}` });
    assert.equal(r.status, 200, r.text);
    const eventId = r.json.id;
    assert.match(eventId, /^evt_/);
    const list = await until(`a delivery for ${eventId}`, async () => {
      const l = await admin(`/api/deliveries?event=${eventId}`);
      return l.items.length > 0 ? l : null;
    });
    assert.equal(list.items.length, 1, 'one delivery per event and endpoint');
    const msgId = list.items[0].id;
    assert.match(msgId, /^msg_/);
    assert.equal(list.items[0].endpoint, 'rcv');
    await until(`${msgId} dead`, async () => (await deliveryState(msgId)) === 'dead');
    assert.equal(requestsFor(msgId).length, 1, 'one attempt: a 400 is not retried');
    return { eventId, msgId };
  }

  before(async () => {
    receiver = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(400, { 'Content-Type': 'application/json' });
        res.end('{"error":"refused by the test receiver"}');
      });
    });
    await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const port = receiver.address().port;
    const config = `${standardConfig()}
endpoints:
  - name: rcv
    url: http://127.0.0.1:${port}/hook
    signing: standard-webhooks
    secrets: ["${secret}"]
    timeout: 5s
`;
    g = await start(config, { env: { DESKHOOK_ALLOW_PRIVATE: '127.0.0.0/8' } });
  });
  after(async () => {
    await cleanup(g);
    await new Promise((resolve) => receiver.close(resolve));
  });

  it('replay MSG_ID sends the dead delivery again with the same webhook-id', async () => {
    const { msgId } = await deadDelivery();
    const first = requestsFor(msgId)[0];
    wh.verify(first.body, first.headers); // a signed Standard Webhooks request

    const r = await replay(['--admin-url', g.adminUrl, msgId]);
    assert.equal(r.code, 0, show(r));
    assert.ok(r.json, `the answer is JSON on stdout: ${show(r)}`);
    assert.equal(r.json.id, msgId, 'the answer is the delivery');
    assert.equal(r.stderr, '');

    await until(`a second request for ${msgId}`, async () => requestsFor(msgId).length >= 2);
    const second = requestsFor(msgId)[1];
    assert.equal(second.headers['webhook-id'], msgId, 'same webhook-id');
    assert.equal(second.headers['x-webhook-id'], msgId);
    wh.verify(second.body, second.headers);
    assert.deepEqual(JSON.parse(second.body).data, JSON.parse(first.body).data, 'the same event');
    await until(`${msgId} dead again`, async () => (await deliveryState(msgId)) === 'dead');
    const d = await admin(`/api/deliveries/${msgId}`);
    assert.ok(d.attempts.length >= 2, `both attempts are recorded: ${JSON.stringify(d)}`);
  });

  it('replay --endpoint NAME --state dead replays every dead delivery of the endpoint', async () => {
    await deadDelivery();
    await deadDelivery();
    const stats = await until('no delivery pending', settled);
    assert.ok(stats.dead >= 2, `dead deliveries: ${JSON.stringify(stats)}`);
    const before = got.length;

    const r = await replay(['--admin-url', g.adminUrl, '--endpoint', 'rcv', '--state', 'dead']);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(r.json, { replayed: stats.dead }, show(r));

    await until(`${stats.dead} more requests`, async () => got.length >= before + stats.dead);
    await until('everything dead again', settled);
    const ids = new Set(got.slice(before).map((q) => q.headers['webhook-id']));
    assert.equal(ids.size, stats.dead, 'one new request per replayed delivery');
  });

  it('replay --endpoint with a window that ends in the past replays nothing', async () => {
    await until('no delivery pending', settled);
    const r = await replay(['--admin-url', g.adminUrl, '--endpoint', 'rcv', '--state', 'dead',
      '--since', '2000-01-01T00:00:00Z', '--until', '2000-01-02T00:00:00Z']);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(r.json, { replayed: 0 });
  });

  it('replay --endpoint defaults to dead deliveries and reaches the gateway through -c FILE', async () => {
    const { dead } = await until('no delivery pending', settled);
    const file = `${g.dir}/cli.yaml`;
    fs.writeFileSync(file, `admin: {listen: 127.0.0.1:0, token: "${ADMIN_TOKEN}"}\n`);
    const r = await replay(['-c', file, '--admin-url', g.adminUrl, '--endpoint', 'rcv'],
      { env: { DESKHOOK_ADMIN_TOKEN: null } });
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(r.json, { replayed: dead });
    await until('everything dead again', settled);
  });

  it('replay --event EVT_ID fans the event out again', async () => {
    const { eventId, msgId } = await deadDelivery();
    const r = await replay(['--admin-url', g.adminUrl, '--event', eventId]);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.json?.event_id, eventId, show(r));
    assert.ok(Array.isArray(r.json.deliveries), show(r));
    assert.equal(r.json.deliveries.length, 1, 'one endpoint subscribes');
    const [d] = r.json.deliveries;
    assert.equal(d.endpoint, 'rcv');
    assert.match(d.id, /^msg_/);
    // The same delivery sent again (a second request with its id), or a new
    // one (a first request with the new id).
    const want = d.id === msgId ? 2 : 1;
    await until(`a request with webhook-id ${d.id} after the replay`, async () => requestsFor(d.id).length >= want);
    const last = requestsFor(d.id).at(-1);
    wh.verify(last.body, last.headers);
  });
});
