// What is acknowledged stays acknowledged: restarts, a second instance, a
// SIGKILL under load, fsync before every 200, and a store that cannot fsync.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import {
  start, cleanup, startExpectingFailure, standardConfig, tempDir, fdBody, nonce, sha256, pool, post,
  errorOf, sleep, FD_SECRET, SEED_PAYLOAD_TEXT,
} from './lib/gateway.mjs';

const CONFIG = standardConfig();

// Fetch the raw bytes of each id; returns Map id -> sha256 (or null if absent).
async function rawHashes(g, ids, concurrency = 32) {
  const out = new Map();
  await pool(ids, concurrency, async (id) => {
    const r = await g.admin(`/api/events/${encodeURIComponent(id)}/raw`);
    if (r.status === 200) out.set(id, sha256(r.body));
    else if (r.status === 404) out.set(id, null);
    else throw new Error(`GET /api/events/${id}/raw -> ${r.status} ${r.text.slice(0, 200)}`);
  });
  return out;
}

describe('restart', () => {
  const gs = [];
  after(async () => { for (const g of gs) await cleanup(g); });

  it('SIGTERM exits 0 and a restart on the same database keeps events, raw bytes and dedupe', async () => {
    const g = await start(CONFIG);
    gs.push(g);
    const seed = await g.post('/webhook/freshdesk', SEED_PAYLOAD_TEXT, { secret: FD_SECRET });
    assert.equal(seed.status, 200, seed.text);
    const ids = [seed.json.id];
    const bodies = new Map([[seed.json.id, SEED_PAYLOAD_TEXT]]);
    for (let i = 0; i < 3; i++) {
      const body = JSON.stringify({ title: `restart ${i}`, n: nonce() });
      const r = await g.post('/webhooks/testing', body);
      assert.equal(r.status, 200, r.text);
      ids.push(r.json.id);
      bodies.set(r.json.id, body);
    }
    const info = await g.stop('SIGTERM');
    assert.deepEqual(info, { code: 0, signal: null }, 'SIGTERM exits 0');

    const g2 = await start(CONFIG, { dir: g.dir });
    gs.push(g2);
    const listed = (await g2.listAll()).map((e) => e.id);
    assert.deepEqual(listed, [...ids].reverse(), 'same events, newest first');
    for (const id of ids) {
      const raw = await g2.admin(`/api/events/${id}/raw`);
      assert.equal(raw.status, 200);
      assert.ok(raw.body.equals(Buffer.from(bodies.get(id))), `raw bytes of ${id} survive the restart`);
    }
    const ev = await g2.admin(`/api/events/${ids[0]}`);
    assert.equal(ev.json.ticket.id, '1228307');

    // Dedupe is kept durably across the restart.
    const dup = await g2.post('/webhook/freshdesk', SEED_PAYLOAD_TEXT, { secret: FD_SECRET });
    assert.deepEqual(dup.json, { id: ids[0], status: 'duplicate' }, 'dedupe survives a restart');

    // New events get new ids.
    const fresh = await g2.post('/webhooks/testing', JSON.stringify({ title: 'after restart', n: nonce() }));
    assert.equal(fresh.status, 200, fresh.text);
    assert.ok(!ids.includes(fresh.json.id), 'a new id after the restart');
    assert.deepEqual(await g2.stop(), { code: 0, signal: null });
  });
});

describe('single instance', () => {
  const gs = [];
  after(async () => { for (const g of gs) await cleanup(g); });

  it('a second serve on the same database fails at once with a clear message', async () => {
    const g = await start(CONFIG);
    gs.push(g);
    const r = await startExpectingFailure(CONFIG, { dir: g.dir, timeoutMs: 10000 });
    assert.equal(r.listened, false, 'the second instance must not start serving');
    assert.equal(r.signal, null, `it exits by itself (stderr: ${r.stderr})`);
    assert.equal(typeof r.code, 'number');
    assert.notEqual(r.code, 0);
    assert.ok(r.elapsedMs < 5000, `fails fast (${r.elapsedMs} ms)`);
    assert.match(r.stderr, /lock|in use|already|another|busy|running/i, `a clear message: ${r.stderr}`);
    assert.match(r.stderr, /deskhook\.db|database|store/i, `names the database: ${r.stderr}`);

    // The first instance is unaffected.
    const ok = await g.post('/webhooks/testing', JSON.stringify({ title: 'still here', n: nonce() }));
    assert.equal(ok.status, 200, ok.text);
  });

  it('a second serve on the same listen port fails at once with a clear message', async () => {
    const g = await start(CONFIG);
    gs.push(g);
    const r = await startExpectingFailure(CONFIG, { listen: g.ready.listen, timeoutMs: 10000 });
    assert.equal(r.listened, false, 'the second instance must not start serving');
    assert.equal(r.signal, null, `it exits by itself (stderr: ${r.stderr})`);
    assert.notEqual(r.code, 0);
    assert.ok(r.elapsedMs < 5000, `fails fast (${r.elapsedMs} ms)`);
    assert.match(r.stderr, /in use|bind|listen|address/i, `a clear message: ${r.stderr}`);
    assert.ok(r.stderr.includes(g.ready.listen.split(':').pop()), `names the port: ${r.stderr}`);
  });
});

describe('crash under load', () => {
  const gs = [];
  after(async () => { for (const g of gs) await cleanup(g); });

  it('SIGKILL with 2,000 requests in flight loses no acknowledged event and stores none twice', async (t) => {
    const CONCURRENCY = 2000;
    const KILL_AFTER = 3000;
    const g = await start(CONFIG);
    gs.push(g);
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY, maxFreeSockets: CONCURRENCY });
    const acked = new Map(); // id -> sha256 of the body
    const collisions = [];
    const preKillErrors = [];
    const preKillStatuses = [];
    let postKill = 0;
    let seq = 0;
    let killed = false;
    let inflight = 0;
    let finish;
    const finished = new Promise((r) => { finish = r; });
    const kill = () => {
      if (killed) return;
      killed = true;
      g.proc.kill('SIGKILL');
    };
    const watchdog = setTimeout(kill, 90000);

    const fire = () => {
      if (killed) {
        if (inflight === 0) finish();
        return;
      }
      const n = seq++;
      const body = fdBody(1000000 + n, { n: nonce() });
      inflight++;
      post(`${g.url}/webhooks/freshdesk`, body, { secret: FD_SECRET, agent, timeout: 60000 }).then((r) => {
        if (r.status === 200 && r.json && r.json.status === 'accepted') {
          const h = sha256(body);
          if (acked.has(r.json.id) && acked.get(r.json.id) !== h) collisions.push(r.json.id);
          acked.set(r.json.id, h);
          if (acked.size >= KILL_AFTER) kill();
        } else if (!killed) {
          // 503 with Retry-After is allowed back-pressure; anything else is not.
          if (!(r.status === 503 && r.headers['retry-after'])) {
            preKillStatuses.push(`${r.status} ${r.text.slice(0, 200)}`);
          }
        }
      }, (err) => {
        if (!killed) preKillErrors.push(err.code || err.message);
        else postKill++;
      }).finally(() => {
        inflight--;
        fire();
      });
    };
    for (let i = 0; i < CONCURRENCY; i++) fire();
    await finished;
    clearTimeout(watchdog);
    agent.destroy();
    const info = await g.exited;
    assert.equal(info.signal, 'SIGKILL');

    assert.ok(acked.size >= KILL_AFTER, `reached ${KILL_AFTER} acknowledgements before the watchdog (got ${acked.size})`);
    assert.deepEqual(collisions, [], 'one id was given to two different bodies');
    assert.deepEqual(preKillErrors.slice(0, 10), [],
      `${preKillErrors.length} connection errors before the kill (sent ${seq})`);
    assert.deepEqual(preKillStatuses.slice(0, 10), [], `${preKillStatuses.length} unexpected statuses before the kill`);

    const g2 = await start(CONFIG, { dir: g.dir, readyTimeout: 30000 });
    gs.push(g2);
    const items = await g2.listAll({}, 100);
    const listedIds = items.map((e) => e.id);
    assert.equal(new Set(listedIds).size, listedIds.length, 'paging lists each event once');
    const wanted = [...new Set([...listedIds, ...acked.keys()])];
    const stored = await rawHashes(g2, wanted);

    const missing = [];
    const changed = [];
    for (const [id, h] of acked) {
      const got = stored.get(id);
      if (got === null || got === undefined) missing.push(id);
      else if (got !== h) changed.push(id);
    }
    const listedSet = new Set(listedIds);
    const unlisted = [...acked.keys()].filter((id) => !listedSet.has(id));
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${acked.size} acknowledged events missing`);
    assert.deepEqual(changed.slice(0, 10), [], `${changed.length} acknowledged events have different raw bytes`);
    assert.deepEqual(unlisted.slice(0, 10), [], `${unlisted.length} acknowledged events not in the listing`);

    const seen = new Map();
    for (const id of listedIds) {
      const h = stored.get(id);
      seen.set(h, (seen.get(h) || 0) + 1);
    }
    const repeated = [...seen.values()].filter((c) => c > 1).length;
    assert.equal(repeated, 0, 'no request body is stored twice');
    assert.ok(listedIds.length >= acked.size);
    t.diagnostic(`sent ${seq}, acknowledged ${acked.size}, stored ${listedIds.length}, `
      + `connection errors after the kill ${postKill}`);
  });
});

// Parse the shim's log: "<ns> <kind> <fd> <rc> <marker>" per line.
function readShimLog(file) {
  const recs = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const [ns, kind, fd, rc, marker] = line.split(' ');
    recs.push({ ns: BigInt(ns), kind, fd: Number(fd), rc: Number(rc), marker });
  }
  recs.sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
  return recs;
}

const SENDS = new Set(['send', 'sendmsg', 'writev', 'write']);
const RECVS = new Set(['recv', 'recvfrom', 'read']);
const SYNCS = new Set(['fsync', 'fdatasync']);

describe('fsync before acknowledgement (LD_PRELOAD shim)', () => {
  const gs = [];
  after(async () => { for (const g of gs) await cleanup(g); });

  it('every 200 is sent after a successful fsync that follows the request', async () => {
    const dir = tempDir();
    const logFile = `${dir}/shim.log`;
    const g = await start(CONFIG, { dir, preload: true, env: { DH_SHIM_LOG: logFile } });
    gs.push(g);
    let ok = 0;
    const send = async (i) => {
      const r = await g.post('/webhooks/freshdesk', fdBody(5000000 + i, { n: nonce() }), { secret: FD_SECRET });
      assert.equal(r.status, 200, r.text);
      ok++;
    };
    // First one at a time, where only this request's commit can fsync,
    // then with some concurrency.
    for (let i = 0; i < 40; i++) await send(i);
    await pool(Array.from({ length: 160 }, (_, i) => i + 40), 8, send);
    assert.deepEqual(await g.stop(), { code: 0, signal: null });

    const recs = readShimLog(logFile);
    const syncs = recs.filter((r) => SYNCS.has(r.kind) && r.rc === 0);
    assert.ok(syncs.length > 0, 'the gateway calls fsync or fdatasync at all');
    const lastRecv = new Map();
    let lastSync = null;
    let responses = 0;
    const bad = [];
    for (const r of recs) {
      if (SYNCS.has(r.kind)) {
        if (r.rc === 0) lastSync = r.ns;
      } else if (RECVS.has(r.kind)) {
        if (r.rc > 0) lastRecv.set(r.fd, r.ns);
      } else if (SENDS.has(r.kind) && r.marker === 'http=200' && r.rc > 0) {
        responses++;
        const rcv = lastRecv.get(r.fd);
        if (rcv === undefined) bad.push(`fd ${r.fd} at ${r.ns}: a 200 with no receive logged before it`);
        else if (lastSync === null || lastSync < rcv) {
          bad.push(`fd ${r.fd}: 200 sent at ${r.ns}, request received at ${rcv}, last fsync at ${lastSync}`);
        }
      }
    }
    assert.equal(responses, ok, 'the shim saw every 200 the client got');
    assert.deepEqual(bad.slice(0, 10), [], `${bad.length} of ${responses} responses were sent without a `
      + 'successful fsync between the request and the response');
  });
});

describe('fault injection (LD_PRELOAD shim)', () => {
  const gs = [];
  let failFile;
  after(async () => {
    if (failFile) fs.rmSync(failFile, { force: true });
    for (const g of gs) await cleanup(g);
  });

  it('fsync failing with EIO: 503 store_unavailable, /health 503, recovery, failed body not stored', async () => {
    const dir = tempDir();
    failFile = `${dir}/fail-fsync`;
    const g = await start(CONFIG, { dir, preload: true, env: { DH_SHIM_FAIL_FILE: failFile } });
    gs.push(g);
    const first = await g.post('/webhooks/testing', JSON.stringify({ title: 'before the fault', n: nonce() }));
    assert.equal(first.status, 200, first.text);
    assert.equal((await g.get('/health')).status, 200);

    fs.writeFileSync(failFile, '');
    const failedBody = JSON.stringify({ title: 'during the fault', n: nonce() });
    const r = await g.post('/webhooks/testing', failedBody);
    assert.equal(r.status, 503, `POST while fsync fails: ${r.status} ${r.text}`);
    assert.equal(errorOf(r)?.code, 'store_unavailable', r.text);
    assert.match(String(r.headers['retry-after'] || ''), /^\d+$/, 'Retry-After');
    const fdFail = await g.post('/webhooks/freshdesk', fdBody(6001, { n: nonce() }), { secret: FD_SECRET });
    assert.equal(fdFail.status, 503, `signed freshdesk POST while fsync fails: ${fdFail.text}`);
    const h = await g.get('/health');
    assert.equal(h.status, 503, `/health while fsync fails: ${h.status} ${h.text}`);

    fs.rmSync(failFile);
    let health = null;
    for (let i = 0; i < 50; i++) {
      health = await g.get('/health');
      if (health.status === 200) break;
      await sleep(100);
    }
    assert.equal(health.status, 200, `/health recovers: ${health.text}`);
    const after1 = await g.post('/webhooks/testing', JSON.stringify({ title: 'after the fault', n: nonce() }));
    assert.equal(after1.status, 200, `POST after the fault: ${after1.text}`);

    const failedHash = sha256(failedBody);
    const countFailed = async (gw) => {
      const ids = (await gw.listAll()).map((e) => e.id);
      const hashes = await rawHashes(gw, ids);
      return { total: ids.length, failed: [...hashes.values()].filter((x) => x === failedHash).length };
    };
    let c = await countFailed(g);
    assert.equal(c.failed, 0, 'the body answered with 503 is not in the store');
    assert.equal(c.total, 2);

    // Its dedupe entry was not kept either: sent again it is accepted anew.
    const again = await g.post('/webhooks/testing', failedBody);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.status, 'accepted', 'a body refused with 503 is not a duplicate later');

    // And a restart does not bring the failed transaction back.
    assert.deepEqual(await g.stop(), { code: 0, signal: null });
    const g2 = await start(CONFIG, { dir });
    gs.push(g2);
    c = await countFailed(g2);
    assert.equal(c.failed, 1, 'after a restart the once-refused body is stored exactly once');
    assert.equal(c.total, 3);
  });
});
