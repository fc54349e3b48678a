// Deliveries survive a crash. A gateway with one endpoint pointing at a local
// receiver (lib/receiver.mjs; loopback allowed through
// DESKHOOK_ALLOW_PRIVATE) gets 1,000 distinct events, is killed with SIGKILL
// and restarted on the same store. Afterwards the receiver must have seen
// every one of the 1,000 events at least once, every repeat of an event with
// the same webhook-id (the delivery id the API lists), and the API must list
// 1,000 deliveries, all delivered.
//
// (a) The endpoint is paused while the events come in, so all 1,000 are
//     pending at the kill; it is resumed after the restart.
// (b) The receiver answers after ~200 ms and the endpoint sends 8 at a time,
//     so the kill comes while deliveries are in flight; each delivery whose
//     request was unanswered at the kill must be sent again after the
//     restart.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { start, cleanup, pool } from './lib/gateway.mjs';
import { startReceiver, delayed, waitFor } from './lib/receiver.mjs';
import {
  whsec, api, apiOk, postEvent, listDeliveries, deliveryConfig,
} from './lib/delivery.mjs';

const N = 1000;
const SECRET = whsec();
const ENV = { DESKHOOK_ALLOW_PRIVATE: '127.0.0.0/8' };
const SCHEDULE = ['0s', '100ms', '200ms', ...Array(17).fill('500ms')];

function config(rx, path, extra = {}) {
  return deliveryConfig({
    sources: ['s-crash'],
    endpoints: [{
      name: 'crm',
      url: rx.url(path),
      sources: ['s-crash'],
      signing: 'standard-webhooks',
      secrets: [SECRET],
      timeout: '5s',
      retry: { schedule: SCHEDULE, max_attempts: SCHEDULE.length },
      ...extra,
    }],
  });
}

// Posts N distinct events; resolves with their ids in order.
async function postMany(g, n) {
  const ids = await pool(Array.from({ length: n }, (_, i) => i), 32,
    (i) => postEvent(g, 's-crash', i % 2 ? 'ticket.updated' : 'ticket.created', { seq: i }));
  assert.equal(new Set(ids).size, n, 'distinct event ids');
  return ids;
}

// Every event id reached the receiver on path.
function seenAll(rx, path, ids) {
  const seen = new Set(rx.requests(path).map((r) => r.eventId));
  return ids.every((id) => seen.has(id));
}

// Waits until the API lists one delivered delivery per event; resolves with
// Map event_id -> delivery.
async function allDelivered(g, ids, timeoutMs) {
  let last = [];
  await waitFor(async () => {
    last = await listDeliveries(g, { endpoint: 'crm' });
    return last.length === ids.length && last.every((d) => d.state === 'delivered');
  }, timeoutMs, () => {
    const by = {};
    for (const d of last) by[d.state] = (by[d.state] || 0) + 1;
    return `${ids.length} delivered deliveries (listed ${last.length}: ${JSON.stringify(by)})`;
  }, 250);
  const byEvent = new Map();
  for (const d of last) {
    assert.ok(!byEvent.has(d.event_id), `one delivery per event (${d.event_id} twice)`);
    byEvent.set(d.event_id, d);
  }
  for (const id of ids) assert.ok(byEvent.has(id), `a delivery for ${id}`);
  return byEvent;
}

// Every request verified, every event seen, one webhook-id per event and it
// is the listed delivery id.
function checkReceived(rx, path, ids, byEvent) {
  const reqs = rx.requests(path);
  const unverified = reqs.filter((r) => r.verified !== true);
  assert.equal(unverified.length, 0, `${unverified.length} of ${reqs.length} requests did not verify`);
  const hooks = new Map(); // event id -> Set of webhook-ids
  for (const r of reqs) {
    assert.ok(r.eventId, `a request without data.id: ${r.text.slice(0, 200)}`);
    if (!hooks.has(r.eventId)) hooks.set(r.eventId, new Set());
    hooks.get(r.eventId).add(r.headers['webhook-id']);
  }
  const missing = ids.filter((id) => !hooks.has(id));
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${ids.length} events never reached the receiver`);
  const unstable = [...hooks].filter(([, s]) => s.size !== 1);
  assert.deepEqual(unstable.slice(0, 5).map(([e, s]) => [e, [...s]]), [],
    `${unstable.length} events arrived under more than one webhook-id`);
  const wrong = ids.filter((id) => [...hooks.get(id)][0] !== byEvent.get(id).id);
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} events carried a webhook-id other than their delivery id`);
  const extra = [...hooks.keys()].filter((id) => !byEvent.has(id));
  assert.deepEqual(extra.slice(0, 10), [], 'no request for an event that was not posted');
  return reqs.length - hooks.size; // repeats
}

describe('deliveries survive SIGKILL', () => {
  const gs = [];
  const rxs = [];
  after(async () => {
    for (const g of gs) await cleanup(g);
    for (const rx of rxs) await rx.close();
  });

  it('1,000 pending deliveries (endpoint paused) are all delivered after a restart', { timeout: 90000 }, async (t) => {
    const rx = await startReceiver();
    rxs.push(rx);
    rx.verify('/crash-a', { standardWebhooks: [SECRET] });
    const cfg = config(rx, '/crash-a');
    const g = await start(cfg, { env: ENV });
    gs.push(g);

    const paused = await apiOk(g, 'POST', '/api/endpoints/crm/pause', {});
    assert.equal(paused.status.paused, true);
    const ids = await postMany(g, N);

    const pending = await listDeliveries(g, { endpoint: 'crm' });
    assert.equal(pending.length, N, 'one delivery per event');
    assert.ok(pending.every((d) => d.state === 'pending'), 'all pending while paused');
    assert.deepEqual(new Set(pending.map((d) => d.event_id)), new Set(ids));
    const idBefore = new Map(pending.map((d) => [d.event_id, d.id]));
    assert.equal(rx.count(), 0, 'nothing sent while paused');

    const info = await g.kill();
    assert.equal(info.signal, 'SIGKILL');

    const g2 = await start(cfg, { dir: g.dir, env: ENV, readyTimeout: 30000 });
    gs.push(g2);
    const beforeResume = rx.count();
    const resumed = await api(g2, 'POST', '/api/endpoints/crm/resume', {});
    assert.equal(resumed.status, 200, resumed.text);
    assert.equal(resumed.json.status.paused, false);

    await rx.waitFor(() => seenAll(rx, '/crash-a', ids), 30000,
      () => `all ${N} events on the receiver (have ${new Set(rx.requests('/crash-a').map((r) => r.eventId)).size})`);
    const byEvent = await allDelivered(g2, ids, 15000);
    for (const id of ids) assert.equal(byEvent.get(id).id, idBefore.get(id), 'delivery ids survive the restart');
    const repeats = checkReceived(rx, '/crash-a', ids, byEvent);
    t.diagnostic(`requests ${rx.count()}, repeats ${repeats}, sent before the resume ${beforeResume}`);
  });

  it('SIGKILL while deliveries are in flight: every event still arrives, under one webhook-id', { timeout: 90000 }, async (t) => {
    const rx = await startReceiver();
    rxs.push(rx);
    const path = '/crash-b';
    rx.verify(path, { standardWebhooks: [SECRET] });
    rx.behave(path, delayed(200));
    // 8 at a time, 200 ms each: about 40 a second, so most of the 1,000 are
    // still waiting when the kill comes, even on a slow machine.
    const cfg = config(rx, path, { max_in_flight: 8 });
    const g = await start(cfg, { env: ENV });
    gs.push(g);

    const ids = await postMany(g, N);
    // Some delivered, some waiting for the receiver's answer.
    await rx.waitFor(() => rx.count(path) >= 20 && rx.unanswered().length > 0, 20000,
      () => `20 requests and some in flight (have ${rx.count(path)}, unanswered ${rx.unanswered().length})`);
    const killAt = Date.now();
    const inFlight = new Set(rx.unanswered().map((r) => r.eventId));
    const answered = new Set(rx.requests(path).filter((r) => r.answered).map((r) => r.eventId));
    const info = await g.kill();
    assert.equal(info.signal, 'SIGKILL');
    assert.ok(inFlight.size > 0, 'the kill came while requests were in flight');
    const redo = [...inFlight].filter((id) => !answered.has(id));
    const sentBefore = rx.count(path);

    rx.behave(path, delayed(5));
    const g2 = await start(cfg, { dir: g.dir, env: ENV, readyTimeout: 30000 });
    gs.push(g2);

    await rx.waitFor(() => seenAll(rx, path, ids), 30000,
      () => `all ${N} events on the receiver (have ${new Set(rx.requests(path).map((r) => r.eventId)).size})`);
    const byEvent = await allDelivered(g2, ids, 15000);
    // A request the receiver never answered cannot have been recorded as
    // delivered: it must have gone out again after the restart.
    const notResent = redo.filter((id) => !rx.forEvent(id, path).some((r) => r.time > killAt));
    assert.deepEqual(notResent.slice(0, 10), [], `${notResent.length} of ${redo.length} unanswered deliveries were not sent again`);
    const repeats = checkReceived(rx, path, ids, byEvent);
    t.diagnostic(`sent before the kill ${sentBefore} (${inFlight.size} in flight), `
      + `requests ${rx.count(path)}, repeats ${repeats}`);
  });
});
