// Graceful shutdown: SIGTERM with requests in flight commits or refuses each
// one cleanly and exits 0; SIGINT does the same.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  start, cleanup, standardConfig, fdBody, nonce, sha256, sign, pool, post, sleep, FD_SECRET,
} from './lib/gateway.mjs';

const CONFIG = standardConfig();

// A signed POST whose body goes out in two halves; the second half is sent
// when release() is called. Resolves with {status, json, headers} or
// {error}.
function splitPost(url, body) {
  let release;
  const done = new Promise((resolve) => {
    const buf = Buffer.from(body);
    const req = http.request(url, {
      method: 'POST',
      agent: false,
      headers: {
        'Content-Type': 'application/json',
        'Content-Length': buf.length,
        'X-Webhook-Signature': sign(buf, FD_SECRET),
      },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', (error) => resolve({ error }));
      res.on('aborted', () => resolve({ error: new Error('aborted') }));
      res.on('end', () => {
        if (!res.complete) { resolve({ error: new Error('incomplete') }); return; }
        const text = Buffer.concat(chunks).toString();
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, json, text });
      });
    });
    req.on('error', (error) => resolve({ error }));
    const half = Math.floor(buf.length / 2);
    req.write(buf.subarray(0, half));
    release = () => { if (!req.destroyed) req.end(buf.subarray(half)); };
  });
  return { done, release: () => release() };
}

function classify(outcomes, bodies) {
  const acked = new Map();
  const other = [];
  let errors = 0;
  let unavailable = 0;
  outcomes.forEach((o, i) => {
    if (o.error) errors++;
    else if (o.status === 200 && o.json?.status === 'accepted') acked.set(o.json.id, sha256(bodies[i]));
    else if (o.status === 503) unavailable++;
    else other.push(`${o.status} ${String(o.text).slice(0, 200)}`);
  });
  return { acked, other, errors, unavailable };
}

async function verifyStored(g, acked) {
  const missing = [];
  await pool([...acked.keys()], 16, async (id) => {
    const r = await g.admin(`/api/events/${id}/raw`);
    if (r.status !== 200 || sha256(r.body) !== acked.get(id)) missing.push(`${id}: ${r.status}`);
  });
  return missing;
}

describe('graceful shutdown', () => {
  const gs = [];
  after(async () => { for (const g of gs) await cleanup(g); });

  it('SIGTERM with ~200 requests in flight: each is 200 (and stored) or refused; exit 0', async (t) => {
    const g = await start(CONFIG);
    gs.push(g);
    // An idle keep-alive connection must not hold the shutdown up.
    const idleAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const warm = await post(`${g.url}/webhooks/testing`, JSON.stringify({ title: 'warm', n: nonce() }),
      { agent: idleAgent });
    assert.equal(warm.status, 200, warm.text);

    const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
    const bodies = [];
    const pending = [];
    // 100 requests whose body is half sent: they are in flight for sure.
    const split = [];
    for (let i = 0; i < 100; i++) {
      const body = fdBody(7100000 + i, { n: nonce() });
      bodies.push(body);
      const s = splitPost(`${g.url}/webhooks/freshdesk`, body);
      split.push(s);
      pending.push(s.done);
    }
    await sleep(100); // connected, first halves received
    // 100 complete requests at once; SIGTERM as soon as the first is answered.
    let answered = 0;
    let firstAnswer;
    const oneAnswered = new Promise((r) => { firstAnswer = r; });
    for (let i = 0; i < 100; i++) {
      const body = fdBody(7000000 + i, { n: nonce() });
      bodies.push(body);
      pending.push(post(`${g.url}/webhooks/freshdesk`, body, { secret: FD_SECRET, agent, timeout: 30000 })
        .then((r) => r, (error) => ({ error }))
        .finally(() => { answered++; firstAnswer(); }));
    }
    const guard = setTimeout(firstAnswer, 5000);
    await oneAnswered;
    clearTimeout(guard);
    const answeredBefore = answered;
    const t0 = Date.now();
    g.proc.kill('SIGTERM');
    await sleep(100);
    for (const s of split) s.release();

    const outcomes = await Promise.all(pending);
    const info = await g.exited;
    const tookMs = Date.now() - t0;
    idleAgent.destroy();
    assert.deepEqual(info, { code: 0, signal: null }, `SIGTERM exits 0 (stderr tail: ${g.rawLines.slice(-5).join('\n')})`);
    assert.ok(tookMs < 15000, `exited within 15 s (took ${tookMs} ms)`);

    const { acked, other, errors, unavailable } = classify(outcomes, bodies);
    assert.deepEqual(other, [], 'every request is 200, 503 or a connection error');
    t.diagnostic(`${bodies.length - answeredBefore} in flight at SIGTERM; ${acked.size} accepted, `
      + `${unavailable} 503, ${errors} connection errors; exit after ${tookMs} ms`);

    const g2 = await start(CONFIG, { dir: g.dir });
    gs.push(g2);
    const missing = await verifyStored(g2, acked);
    assert.deepEqual(missing, [], 'every acknowledged request is in the store after the restart');
    const total = await g2.count();
    assert.ok(total <= bodies.length + 1, `nothing stored that was not sent (${total})`);
  });

  it('SIGINT also exits 0 and keeps what was acknowledged', async () => {
    const g = await start(CONFIG);
    gs.push(g);
    const body = JSON.stringify({ title: 'sigint', n: nonce() });
    const r = await g.post('/webhooks/testing', body);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await g.stop('SIGINT'), { code: 0, signal: null }, 'SIGINT exits 0');
    const g2 = await start(CONFIG, { dir: g.dir });
    gs.push(g2);
    const raw = await g2.admin(`/api/events/${r.json.id}/raw`);
    assert.equal(raw.status, 200);
    assert.equal(raw.body.toString(), body);
  });
});
