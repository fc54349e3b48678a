// A stand-in for a customer's webhook receiver, for the delivery tests.
//
// A small HTTP server on 127.0.0.1 with an OS-chosen port. It records every
// request it gets (method, path, headers, raw body, arrival time, and whether
// the signature verified) and answers each path the way the test told it to:
// 200, a status N times and then 200, 429 with Retry-After, a redirect, 410,
// an answer after a delay, or no answer at all (to force a timeout).
//
//   const rx = await startReceiver();
//   rx.behave('/hook', failThen(2, 503));          // 503, 503, then 200
//   rx.verify('/hook', { standardWebhooks: [secret] });
//   ... endpoint url: rx.url('/hook') ...
//   await rx.waitForCount('/hook', 3, 5000);
//   rx.requests('/hook')[0].verified               // true
//   await rx.close();
//
// A behaviour is a step, a list of steps or a function (record, i) => step,
// where i counts the requests to that path from 0. A step is
//   {status = 200, headers = {}, body = '{"ok":true}', delay = 0, hang = false,
//    destroy = false, times = Infinity}
// `times` is how many requests the step answers before the next step takes
// over; the last step answers everything after that. `hang` never answers
// (the connection stays open until the client gives up or the receiver
// closes); `delay` answers after that many ms; `destroy` drops the connection
// without an answer.

import http from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// Behaviours

export const ok = (extra = {}) => ({ status: 200, ...extra });
// `n` answers with `status`, then 200 (or `then`).
export const failThen = (n, status = 503, extra = {}, then = ok()) => [{ status, ...extra, times: n }, then];
export const always = (status, extra = {}) => ({ status, ...extra });
export const retryAfter = (seconds, times = 1, then = ok()) => [
  { status: 429, headers: { 'Retry-After': String(seconds) }, times }, then,
];
export const hang = (times = Infinity, then = ok()) => [{ hang: true, times }, then];
export const delayed = (ms, step = ok()) => ({ ...step, delay: ms });
export const gone = () => ({ status: 410, body: '{"error":"gone"}' });
export const redirect = (location, status = 302) => ({ status, headers: { Location: location }, body: '' });

const DEFAULT_BODY = '{"ok":true}';

// ---------------------------------------------------------------------------
// Polling

// Resolves with the first truthy value of predicate() (which may be async),
// polling every intervalMs; rejects after timeoutMs with `what` (a string or
// a function giving one) in the message.
export async function waitFor(predicate, timeoutMs = 5000, what = 'condition', intervalMs = 20) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  for (;;) {
    try {
      const v = await predicate();
      if (v) return v;
      lastErr = undefined;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() >= deadline) {
      const desc = typeof what === 'function' ? what() : what;
      const err = new Error(`timed out after ${timeoutMs} ms waiting for ${desc}`
        + (lastErr ? ` (last error: ${lastErr.message})` : ''));
      throw err;
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------
// Signatures

function verifyStandard(secret, rec) {
  try {
    new Webhook(secret).verify(rec.text, {
      'webhook-id': rec.headers['webhook-id'],
      'webhook-timestamp': rec.headers['webhook-timestamp'],
      'webhook-signature': rec.headers['webhook-signature'],
    });
    return true;
  } catch {
    return false;
  }
}

export function hexSignature(secret, body) {
  return createHmac('sha256', secret).update(body).digest('hex');
}

function verifyHex(secret, rec) {
  const got = rec.headers['x-webhook-signature'];
  if (typeof got !== 'string') return false;
  const want = Buffer.from(hexSignature(secret, rec.body));
  const have = Buffer.from(got);
  return have.length === want.length && timingSafeEqual(have, want);
}

// Fills rec.verify ({standardWebhooks: [bool per secret], hex: bool}) and
// rec.verified (every configured check passed; standard-webhooks passes
// when every configured secret verifies on its own).
function runVerify(cfg, rec) {
  rec.verify = {};
  let all = true;
  if (cfg.standardWebhooks) {
    const secrets = [].concat(cfg.standardWebhooks);
    rec.verify.standardWebhooks = secrets.map((s) => verifyStandard(s, rec));
    all = all && rec.verify.standardWebhooks.every(Boolean);
  }
  if (cfg.hex) {
    rec.verify.hex = verifyHex(cfg.hex, rec);
    all = all && rec.verify.hex;
  }
  rec.verified = all;
}

// ---------------------------------------------------------------------------
// The server

export async function startReceiver(opts = {}) {
  const records = [];
  const behaviours = new Map(); // path -> behaviour
  const verifiers = new Map();  // path (or '*') -> {standardWebhooks, hex, reject}
  const counts = new Map();     // path -> requests so far
  const timers = new Set();
  const open = new Set();       // records not answered yet
  const waiters = new Set();
  let seq = 0;
  let closed = false;

  const notify = () => { for (const w of waiters) w(); };

  function stepFor(path, rec, i) {
    const b = behaviours.get(path) ?? behaviours.get('*') ?? opts.default ?? ok();
    if (typeof b === 'function') return b(rec, i) || ok();
    const steps = Array.isArray(b) ? b : [b];
    let k = i;
    for (let s = 0; s < steps.length; s++) {
      const times = steps[s].times ?? Infinity;
      if (s === steps.length - 1 || k < times) return steps[s];
      k -= times;
    }
    return steps[steps.length - 1];
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const u = new URL(req.url, 'http://127.0.0.1');
      const text = body.toString('utf8');
      let json;
      try { json = JSON.parse(text); } catch { json = undefined; }
      const rec = {
        seq: seq++,
        method: req.method,
        path: u.pathname,
        url: req.url,
        headers: { ...req.headers },
        rawHeaders: req.rawHeaders.slice(),
        body,
        text,
        json,
        time: Date.now(),
        webhookId: req.headers['webhook-id'] ?? req.headers['x-webhook-id'],
        eventId: json && json.data && typeof json.data === 'object' ? json.data.id : undefined,
        verified: null,
        verify: null,
        answered: null,   // {status, time} once answered
        aborted: false,   // the client went away before an answer
      };
      const i = counts.get(rec.path) || 0;
      counts.set(rec.path, i + 1);
      const vcfg = verifiers.get(rec.path) ?? verifiers.get('*');
      if (vcfg) runVerify(vcfg, rec);
      records.push(rec);
      open.add(rec);

      res.on('close', () => {
        if (!rec.answered) rec.aborted = true;
        open.delete(rec);
        notify();
      });

      let step = stepFor(rec.path, rec, i);
      if (vcfg && vcfg.reject && !rec.verified) step = { status: 401, body: '{"error":"bad signature"}' };
      rec.step = step;
      notify();

      if (step.hang) return; // no answer; the connection stays open
      const answer = () => {
        if (res.destroyed || res.writableEnded) return;
        if (step.destroy) { req.socket.destroy(); return; }
        const status = step.status ?? 200;
        let out = step.body ?? (status >= 300 && status < 400 ? ''
          : status >= 400 ? `{"error":"status ${status}"}` : DEFAULT_BODY);
        if (!Buffer.isBuffer(out)) out = Buffer.from(String(out));
        const headers = { ...(step.headers || {}) };
        if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type') && out.length) {
          headers['Content-Type'] = 'application/json';
        }
        headers['Content-Length'] = out.length;
        rec.answered = { status, time: Date.now() };
        try {
          res.writeHead(status, headers);
          res.end(out);
        } catch {
          rec.answered = null;
        }
        notify();
      };
      const delay = step.delay ?? 0;
      if (delay > 0) {
        const t = setTimeout(() => { timers.delete(t); answer(); }, delay);
        timers.add(t);
      } else {
        answer();
      }
    });
  });
  server.keepAliveTimeout = 10000;
  server.requestTimeout = 0;
  server.headersTimeout = 60000;

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const { port } = server.address();
  const base = `http://127.0.0.1:${port}`;

  const rx = {
    port,
    base,
    // The URL of a path on this receiver, with another host name if asked
    // (e.g. 'localhost').
    url(path = '/', host = '127.0.0.1') { return `http://${host}:${port}${path}`; },
    // How a path answers from now on; the path's request count starts again
    // from 0 (so failThen(2) means the next two requests fail).
    behave(path, behaviour) {
      behaviours.set(path, behaviour);
      counts.set(path, 0);
      return rx;
    },
    // Signature checks for a path ('*': every path without its own):
    // {standardWebhooks: secret | [secrets], hex: secret, reject: bool}.
    verify(path, cfg) { verifiers.set(path, cfg); return rx; },
    // Recorded requests, oldest first: every one, or one path's.
    requests(path) {
      return path === undefined ? records.slice() : records.filter((r) => r.path === path);
    },
    // Requests whose standard envelope carries this event id in data.id.
    forEvent(eventId, path) {
      return rx.requests(path).filter((r) => r.eventId === eventId);
    },
    count(path) { return path === undefined ? records.length : rx.requests(path).length; },
    // Requests received but not answered yet (hanging or delayed).
    unanswered() { return [...open].filter((r) => !r.answered); },
    // Forget what was recorded (for one path or all).
    clear(path) {
      for (let i = records.length - 1; i >= 0; i--) {
        if (path === undefined || records[i].path === path) records.splice(i, 1);
      }
    },
    // Resolves with the first truthy predicate(rx); checked on each request
    // and every 20 ms. Rejects after timeoutMs.
    waitFor(predicate, timeoutMs = 5000, what = 'receiver condition') {
      return new Promise((resolve, reject) => {
        let done = false;
        const check = () => {
          if (done) return;
          let v;
          try { v = predicate(rx); } catch (err) { finish(); reject(err); return; }
          if (v) { finish(); resolve(v); }
        };
        const finish = () => {
          done = true;
          waiters.delete(check);
          clearInterval(iv);
          clearTimeout(to);
        };
        const iv = setInterval(check, 20);
        const to = setTimeout(() => {
          finish();
          const desc = typeof what === 'function' ? what() : what;
          reject(new Error(`receiver: timed out after ${timeoutMs} ms waiting for ${desc}; `
            + `saw ${records.length} requests: ${summary(records)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    // Resolves with the path's requests once there are at least n.
    waitForCount(path, n, timeoutMs = 5000) {
      return rx.waitFor(() => {
        const l = rx.requests(path);
        return l.length >= n ? l : null;
      }, timeoutMs, `${n} requests on ${path} (have ${rx.count(path)})`);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const done = new Promise((r) => server.close(r));
      server.closeAllConnections();
      await done;
    },
  };
  return rx;
}

function summary(records) {
  const byPath = new Map();
  for (const r of records) byPath.set(r.path, (byPath.get(r.path) || 0) + 1);
  return [...byPath].map(([p, n]) => `${p}×${n}`).join(', ') || 'none';
}
