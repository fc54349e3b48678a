// Helpers shared by the end-to-end tests: start the real build/deskhook on a
// temporary directory with OS-chosen ports, talk to its public and admin
// listeners, and make sure no gateway process outlives the test file.

import { spawn, spawnSync } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

// The repository root, three levels above this file (tests/e2e/lib/).
export const ROOT = decodeURIComponent(new URL('../../../', import.meta.url).pathname).replace(/\/$/, '');
export const BIN = process.env.DESKHOOK_BIN || `${ROOT}/build/deskhook`;
export const SHIM = process.env.DESKHOOK_SHIM || `${ROOT}/build/tests/libdhshim.so`;

export const ADMIN_TOKEN = 'admin-token-e2e';
export const FD_SECRET = 'fd-secret-e2e';
export const CUSTOM_TOKEN = 'custom-token-e2e';

export const haveBinary = () => fs.existsSync(BIN);
export const haveShim = () => fs.existsSync(SHIM);

// ---------------------------------------------------------------------------
// Process bookkeeping: every gateway we spawn is remembered until it exits, and
// whatever is still alive when this test process ends gets SIGKILL.

const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

const tmpDirs = new Set();
process.on('exit', () => {
  if (process.env.DESKHOOK_E2E_KEEP) return;
  for (const d of tmpDirs) {
    try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ }
  }
});

export function tempDir(prefix = 'deskhook-e2e-') {
  const base = (process.env.TMPDIR || '/tmp').replace(/\/$/, '');
  const d = fs.mkdtempSync(`${base}/${prefix}`);
  tmpDirs.add(d);
  return d;
}

export function removeDir(d) {
  if (process.env.DESKHOOK_E2E_KEEP) return;
  try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ }
  tmpDirs.delete(d);
}

export function baseEnv(extra = {}) {
  return {
    ...process.env,
    DESKHOOK_ADMIN_TOKEN: ADMIN_TOKEN,
    FD_SECRET,
    CUSTOM_TOKEN,
    ...extra,
  };
}

// The configuration most tests use. opts adds per-source settings.
export function standardConfig(opts = {}) {
  const fd = opts.freshdesk || {};
  return `listen: 127.0.0.1:0
admin: {listen: 127.0.0.1:0, token: "\${DESKHOOK_ADMIN_TOKEN}"}
store: sqlite:deskhook.db
dedupe_window: 24h
log: {level: info, access: true}
sources:
  - name: freshdesk
    preset: freshdesk
    paths: [/webhook/freshdesk]
    default_event: ticket.created
    max_body: ${fd.max_body || '1MiB'}
    auth:
      hmac: {header: X-Webhook-Signature, algorithm: sha256, encoding: hex, secrets: ["\${FD_SECRET}"]}
    dedupe_window: 60s
${fd.rate_limit ? `    rate_limit: ${fd.rate_limit}\n` : ''}${fd.required ? `    required: [${fd.required.join(', ')}]\n` : ''}  - name: custom
    preset: generic
    auth: {bearer: {tokens: ["\${CUSTOM_TOKEN}"]}}
  - name: testing
    auth: none
${opts.extraSources || ''}`;
}

// Start `deskhook serve`. Resolves once the "listening" line has been logged.
//   configText  YAML written to <dir>/deskhook.yaml
//   opts.dir        reuse this directory (and so its database)
//   opts.env        extra environment variables
//   opts.extraArgs  extra command-line arguments
//   opts.preload    true or a path: LD_PRELOAD the fsync shim
//   opts.listen / opts.adminListen   instead of 127.0.0.1:0
//   opts.readyTimeout  ms to wait for the listening line (default 15000)
export async function start(configText, opts = {}) {
  const dir = opts.dir || tempDir();
  requireBuilt(opts.preload);
  const configPath = `${dir}/deskhook.yaml`;
  fs.writeFileSync(configPath, configText);
  const dbPath = `${dir}/deskhook.db`;
  const env = baseEnv(opts.env);
  if (opts.preload) env.LD_PRELOAD = opts.preload === true ? SHIM : opts.preload;
  const args = [
    'serve', '-c', configPath,
    '--listen', opts.listen || '127.0.0.1:0',
    '--admin-listen', opts.adminListen || '127.0.0.1:0',
    '--store', `sqlite:${dbPath}`,
    ...(opts.extraArgs || []),
  ];
  const proc = spawn(BIN, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);

  const logs = [];      // parsed JSON log lines
  const rawLines = [];  // every stderr line, as text
  let stdout = '';
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    // 'close' rather than 'exit': by then stderr has been read to the end.
    proc.on('close', (code, signal) => {
      exitInfo = { code, signal };
      live.delete(proc);
      resolve(exitInfo);
    });
    proc.on('error', (err) => {
      exitInfo = { code: null, signal: null, error: err };
      live.delete(proc);
      resolve(exitInfo);
    });
  });
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d) => { stdout += d; });

  let onLine;
  let pending = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => {
    pending += d;
    let i;
    while ((i = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, i);
      pending = pending.slice(i + 1);
      rawLines.push(line);
      let obj = null;
      try { obj = JSON.parse(line); } catch { /* not JSON */ }
      if (obj) logs.push(obj);
      if (onLine) onLine(line, obj);
    }
  });

  const readyTimeout = opts.readyTimeout ?? 15000;
  const t0 = Date.now();
  const fail = (msg) => {
    const err = new Error(`${msg}; stderr:\n${rawLines.join('\n')}${pending}`);
    err.exitInfo = exitInfo;
    err.stderr = rawLines.join('\n') + pending;
    err.elapsedMs = Date.now() - t0;
    return err;
  };
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(fail(`gateway did not log "listening" within ${readyTimeout} ms`));
    }, readyTimeout);
    onLine = (line, obj) => {
      if (obj && obj.msg === 'listening' && obj.listen) {
        clearTimeout(timer);
        resolve(obj);
      }
    };
    exited.then((info) => {
      clearTimeout(timer);
      reject(fail(`gateway exited before listening (${JSON.stringify(info)})`));
    });
  }).catch(async (err) => {
    if (!exitInfo) { proc.kill('SIGKILL'); await exited; }
    err.exitInfo = exitInfo;
    throw err;
  });
  onLine = null;

  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const url = `http://${ready.listen}`;
  const adminUrl = `http://${ready.admin_listen}`;

  const g = {
    dir, configPath, dbPath, proc, logs, rawLines, ready, url, adminUrl, agent, exited,
    get stdout() { return stdout; },
    get exitInfo() { return exitInfo; },
    // SIGTERM (or the given signal) and wait for the exit; SIGKILL after timeoutMs.
    async stop(signal = 'SIGTERM', timeoutMs = 15000) {
      agent.destroy();
      if (exitInfo) return exitInfo;
      proc.kill(signal);
      const t = setTimeout(() => { if (!exitInfo) proc.kill('SIGKILL'); }, timeoutMs);
      const info = await exited;
      clearTimeout(t);
      return info;
    },
    async kill() {
      agent.destroy();
      if (!exitInfo) proc.kill('SIGKILL');
      return exited;
    },
    // POST to a path of the public listener. body: string | Buffer | object.
    post(p, body, o = {}) { return post(url + p, body, { agent, ...o }); },
    get(p, o = {}) { return request(url + p, { agent, ...o }); },
    admin(p, o = {}) { return adminGet(adminUrl, p, { agent, ...o }); },
    listAll(query = {}, pageLimit = 100) { return listAll(g, query, pageLimit); },
    count(query = {}) { return listAll(g, query).then((l) => l.length); },
  };
  return g;
}

// Start `deskhook serve` expecting it to fail. Resolves with
// {code, signal, stderr, elapsedMs, listened}; a gateway that does come up
// (listened: true) is killed before this returns.
export async function startExpectingFailure(configText, opts = {}) {
  try {
    const t0 = Date.now();
    const g = await start(configText, { readyTimeout: opts.timeoutMs || 10000, ...opts });
    const elapsedMs = Date.now() - t0;
    await g.kill();
    return { code: null, signal: 'SIGKILL', stderr: g.rawLines.join('\n'), elapsedMs, listened: true };
  } catch (err) {
    return { ...(err.exitInfo || {}), stderr: err.stderr ?? String(err.message), elapsedMs: err.elapsedMs,
      listened: false };
  }
}

// Make sure a gateway is gone (for after-hooks). Never throws.
export async function cleanup(g) {
  if (!g) return;
  try { await g.stop('SIGTERM', 5000); } catch { /* ignore */ }
}

// ---------------------------------------------------------------------------
// HTTP

export function sign(body, secret = FD_SECRET) {
  return createHmac('sha256', secret).update(body).digest('hex');
}

export function sha256(buf) {
  return createHash('sha256').update(buf).digest('hex');
}

export function nonce() {
  return randomBytes(8).toString('hex');
}

// Resolves with {status, headers, body (Buffer), text, json}; rejects on a
// connection error or timeout.
export function request(url, o = {}) {
  return new Promise((resolve, reject) => {
    const headers = { ...(o.headers || {}) };
    let body = o.body;
    if (body !== undefined && !Buffer.isBuffer(body)) body = Buffer.from(body);
    if (body !== undefined && !o.chunked && headers['Content-Length'] === undefined) {
      headers['Content-Length'] = body.length;
    }
    const req = http.request(url, {
      method: o.method || 'GET',
      headers,
      agent: o.agent === undefined ? false : o.agent,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('response aborted')));
      res.on('end', () => {
        if (!res.complete) { reject(new Error('response incomplete')); return; }
        const buf = Buffer.concat(chunks);
        const text = buf.toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, body: buf, text, json });
      });
    });
    req.on('error', reject);
    if (o.timeout) {
      req.setTimeout(o.timeout, () => req.destroy(new Error(`timeout after ${o.timeout} ms`)));
    }
    if (body === undefined) { req.end(); return; }
    if (o.chunked) {
      // Write in pieces so the request goes out with Transfer-Encoding: chunked.
      const step = o.chunked === true ? 1024 : o.chunked;
      for (let i = 0; i < body.length; i += step) req.write(body.subarray(i, i + step));
      req.end();
    } else {
      req.end(body);
    }
  });
}

// POST a webhook. o.secret signs it (hex HMAC-SHA256 in X-Webhook-Signature),
// o.prefix prepends e.g. "sha256=", o.signature sets the header verbatim,
// o.token sends a bearer token, o.contentType overrides application/json.
export function post(url, body, o = {}) {
  if (body !== undefined && typeof body === 'object' && !Buffer.isBuffer(body)) {
    body = JSON.stringify(body);
  }
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body ?? '');
  const headers = { ...(o.headers || {}) };
  if (o.contentType !== null) headers['Content-Type'] = o.contentType || 'application/json';
  if (o.signature !== undefined) headers['X-Webhook-Signature'] = o.signature;
  else if (o.secret) headers['X-Webhook-Signature'] = (o.prefix || '') + sign(buf, o.secret);
  if (o.token) headers.Authorization = `Bearer ${o.token}`;
  return request(url, { ...o, method: o.method || 'POST', headers, body: buf });
}

export function adminGet(adminUrl, p, o = {}) {
  const headers = { ...(o.headers || {}) };
  const token = o.token === undefined ? ADMIN_TOKEN : o.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  return request(adminUrl + p, { ...o, method: 'GET', headers });
}

// Every event the admin API lists for a query, following next_cursor.
export async function listAll(g, query = {}, pageLimit = 100) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < 10000; page++) {
    const q = new URLSearchParams({ ...query, limit: String(query.limit || pageLimit) });
    if (cursor) q.set('cursor', cursor);
    const r = await g.admin(`/api/events?${q}`);
    if (r.status !== 200 || !r.json || !Array.isArray(r.json.items)) {
      throw new Error(`GET /api/events?${q} -> ${r.status} ${r.text.slice(0, 300)}`);
    }
    items.push(...r.json.items);
    cursor = r.json.next_cursor;
    if (cursor === null || cursor === undefined || r.json.items.length === 0) return items;
  }
  throw new Error('listAll: too many pages');
}

// Run fn over items with at most n running at once.
export async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

// Run the binary for a non-serving command, synchronously.
export function run(args, o = {}) {
  requireBuilt(false);
  const r = spawnSync(BIN, args, {
    env: baseEnv(o.env), cwd: o.cwd, encoding: 'utf8', timeout: o.timeout || 15000,
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout || '', stderr: r.stderr || '', error: r.error };
}

// Assert helpers for the error shape.
export function errorOf(r) {
  return r.json && r.json.error ? r.json.error : undefined;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The "Test Webhook Payload" of the Freshdesk seed document.
export const SEED_PAYLOAD = {
  freshdesk_webhook: {
    ticket_id: 1228307,
    ticket_subject: 'ParkWhiz refund request from the online form',
    ticket_description: '<div>ParkWhiz refund request received.</div>',
    ticket_url: 'https://parkonectcare.freshdesk.com/helpdesk/tickets/1228307',
    ticket_portal_url: 'https://help.parkwhiz.com/support/tickets/1228307',
    ticket_status: 'Open',
    ticket_priority: 'Low',
    ticket_contact_name: 'Adam Volin',
    ticket_contact_email: 'ajvolin@gmail.com',
  },
};

// The same payload byte for byte as the seed prints it.
export const SEED_PAYLOAD_TEXT = `{
  "freshdesk_webhook": {
    "ticket_id": 1228307,
    "ticket_subject": "ParkWhiz refund request from the online form",
    "ticket_description": "<div>ParkWhiz refund request received.</div>",
    "ticket_url": "https://parkonectcare.freshdesk.com/helpdesk/tickets/1228307",
    "ticket_portal_url": "https://help.parkwhiz.com/support/tickets/1228307",
    "ticket_status": "Open",
    "ticket_priority": "Low",
    "ticket_contact_name": "Adam Volin",
    "ticket_contact_email": "ajvolin@gmail.com"
  }
}
`;

// A Freshdesk-shaped body with a unique ticket id.
export function fdBody(id, extra = {}) {
  return JSON.stringify({
    freshdesk_webhook: {
      ticket_id: id,
      ticket_subject: `Subject ${id}`,
      ticket_description: `<p>Body ${id}</p>`,
      ticket_status: 'Open',
      ticket_priority: 'Low',
      ticket_contact_email: `c${id}@example.com`,
      ...extra,
    },
  });
}

// A missing build is a failure with a plain message, not a skip.
export function requireBuilt(shim) {
  if (!haveBinary()) throw new Error(`${BIN} does not exist: build it first (make)`);
  if (shim === true && !haveShim()) throw new Error(`${SHIM} does not exist: build it first (make)`);
}
