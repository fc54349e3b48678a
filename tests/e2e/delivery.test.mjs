// Outbound delivery against the real binary: endpoints from the config file
// and from the admin API send every subscribed event to a local receiver
// (lib/receiver.mjs), signed (Standard Webhooks, verified with the
// `standardwebhooks` package, or hex HMAC-SHA256, verified with node:crypto).
// Covered: the envelope and headers, secret rotation, event renames, event
// and source filters, retries with their recorded attempts, Retry-After,
// timeouts, dead letters and replay (one delivery, an endpoint's dead ones,
// an event's fan-out), permanent 4xx, 410 pausing the endpoint, pause and
// resume, the circuit breaker, the SSRF guard (with allow_private on the
// endpoint, in delivery:, and from DESKHOOK_ALLOW_PRIVATE), redirects, the
// Slack format, the endpoints API, and no secret in the gateway's log.
//
// Every endpoint listens to its own source (s-<name>), so the events of one
// test never reach another test's endpoint.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { start, cleanup, errorOf, sleep } from './lib/gateway.mjs';
import {
  startReceiver, ok, always, retryAfter, hang, gone, redirect, hexSignature,
} from './lib/receiver.mjs';
import {
  ISO_Z, MASK, whsec, hexSecret, gatewayVersion, api, apiOk, postEvent, listDeliveries, getDelivery,
  getEndpoint, deliveriesOfEvent, deliveryOf, waitDelivery, waitState, waitEndpoint, watchStates,
  responseHeader, attemptsOf, isEndpoint, deliveryConfig,
} from './lib/delivery.mjs';

const LOOP = ['127.0.0.0/8'];
const FAST = { schedule: ['0s', '100ms', '100ms'], max_attempts: 3 };

// Every secret and token the endpoints hold: none may appear in the log.
const SW = whsec();
const ROT = [whsec(), whsec()];
const HEX = [hexSecret(), hexSecret()];
const BEARER = `bearer-${hexSecret()}`;
const API_KEY = `key-${hexSecret()}`;
const API_SEC = whsec();
const API_BEARER = `api-bearer-${hexSecret()}`;
const ALL_SECRETS = [SW, ...ROT, ...HEX, BEARER, API_KEY, API_SEC, API_BEARER];
// A whsec_ secret is looked for without its prefix (so with it too), also
// as a JSON log line may write it ("/" as "\\/").
const secretNeedles = () => ALL_SECRETS.flatMap((s) => {
  const bare = s.replace(/^whsec_/, '');
  return bare.includes('/') ? [bare, bare.replaceAll('/', '\\/')] : [bare];
});

const SOURCES = [
  's-sw', 's-rot', 's-hex', 's-alpha', 's-beta', 's-retry', 's-limited', 's-slow', 's-dead', 's-fan',
  's-perm', 's-gone', 's-pausable', 's-breaker', 's-ssrf', 's-redirect', 's-slack', 's-api',
];

// An endpoint on the receiver's /<name>, listening to s-<name>, allowed to
// reach loopback, unsigned, with a short retry schedule; extra overrides
// (undefined drops a key).
function ep(rx, name, extra = {}) {
  return {
    name,
    url: rx.url(`/${name}`),
    sources: [`s-${name}`],
    signing: 'none',
    timeout: '5s',
    retry: FAST,
    allow_private: LOOP,
    ...extra,
  };
}

function mainConfig(rx) {
  const breakerSchedule = ['0s', ...Array(14).fill('50ms')];
  return deliveryConfig({
    logLevel: 'debug',
    sources: SOURCES,
    endpoints: [
      ep(rx, 'sw', {
        signing: 'standard-webhooks', secrets: [SW],
        auth: { bearer: BEARER, headers: { 'X-Api-Key': API_KEY } },
      }),
      ep(rx, 'rot', { signing: 'standard-webhooks', secrets: ROT }),
      ep(rx, 'hex', { signing: 'hex', secrets: HEX, event_names: { 'ticket.created': 'conversation.added' } }),
      ep(rx, 'filtered', { events: ['ticket.*'], sources: ['s-alpha'] }),
      ep(rx, 'everything', { sources: ['s-beta'] }),
      ep(rx, 'retry', { retry: { schedule: ['0s', '200ms', '200ms'], max_attempts: 5 } }),
      ep(rx, 'limited', { retry: { schedule: ['0s', '100ms', '100ms'], max_attempts: 3 } }),
      ep(rx, 'slow', { timeout: '500ms', retry: { schedule: ['0s', '100ms', '100ms'], max_attempts: 3 } }),
      // Twelve failures in a row here: more than the default breaker allows.
      ep(rx, 'dead', { breaker: { failures: 100, cooldown: '1s' } }),
      ep(rx, 'fan1', { sources: ['s-fan'] }),
      ep(rx, 'perm', { retry: { schedule: ['0s', '100ms', '100ms', '100ms', '100ms'], max_attempts: 5 } }),
      ep(rx, 'gone', { pause_on_gone: true }),
      ep(rx, 'pausable'),
      ep(rx, 'breaker', {
        breaker: { failures: 3, cooldown: '1s' },
        retry: { schedule: breakerSchedule, max_attempts: breakerSchedule.length },
      }),
      ep(rx, 'ssrf-ip', { sources: ['s-ssrf'], allow_private: undefined }),
      ep(rx, 'ssrf-name', { url: rx.url('/ssrf-name', 'localhost'), sources: ['s-ssrf'], allow_private: undefined }),
      ep(rx, 'ssrf-ok', { sources: ['s-ssrf'] }),
      ep(rx, 'redirect'),
      ep(rx, 'slack', { format: 'slack' }),
    ],
  });
}

// The requests for an event on a path, once there are at least n.
const arrivals = (rx, path, eventId, n = 1, timeoutMs = 5000) =>
  rx.waitFor(() => {
    const l = rx.forEvent(eventId, path);
    return l.length >= n ? l : null;
  }, timeoutMs, () => `${n} requests for ${eventId} on ${path} (have ${rx.forEvent(eventId, path).length})`);

const outcomes = (d) => attemptsOf(d).map((a) => a.outcome);
const statuses = (d) => attemptsOf(d).map((a) => a.status);

function checkAttemptShape(a, n) {
  assert.equal(a.n, n, `attempt number: ${JSON.stringify(a)}`);
  assert.match(a.started_at, ISO_Z, 'started_at');
  assert.equal(typeof a.duration_ms, 'number', 'duration_ms');
  assert.ok(a.duration_ms >= 0, 'duration_ms >= 0');
  assert.equal(typeof a.outcome, 'string', 'outcome');
}

describe('outbound delivery', () => {
  let rx;
  let g;
  let VERSION;

  before(async () => {
    VERSION = gatewayVersion();
    rx = await startReceiver();
    rx.verify('/sw', { standardWebhooks: [SW] });
    rx.verify('/rot', { standardWebhooks: ROT });
    rx.verify('/hex', { hex: HEX[0] });
    rx.verify('/api-one', { standardWebhooks: [API_SEC] });
    rx.verify('/api-one-b', { standardWebhooks: [API_SEC] });
    // No DESKHOOK_ALLOW_PRIVATE here, whatever the calling environment has:
    // loopback is only reachable where an endpoint's allow_private says so.
    g = await start(mainConfig(rx), { env: { DESKHOOK_ALLOW_PRIVATE: undefined } });
  });
  after(async () => {
    await cleanup(g);
    await rx?.close();
  });

  it('standard-webhooks: envelope, headers, webhook-id is the delivery id, the signature verifies', async () => {
    const t0 = Date.now();
    const evt = await postEvent(g, 's-sw', 'ticket.created', { subject: 'Printer on fire' });
    const [req] = await arrivals(rx, '/sw', evt);
    const ev = (await g.admin(`/api/events/${evt}`)).json;
    assert.ok(ev && ev.id === evt, 'the event is stored');

    // The delivery as the API shows it.
    const listed = await deliveryOf(g, evt, 'sw');
    assert.equal(listed.event_id, evt);
    assert.equal(listed.endpoint, 'sw');
    const d = await waitState(g, listed.id, 'delivered');

    // Request line and headers.
    assert.equal(req.method, 'POST');
    assert.match(req.headers['content-type'] || '', /^application\/json\b/, 'Content-Type');
    assert.equal(req.headers['user-agent'], `deskhook/${VERSION}`, 'User-Agent');
    assert.equal(req.headers['x-webhook-event'], 'ticket.created', 'X-Webhook-Event');
    assert.equal(req.headers['webhook-id'], listed.id, 'webhook-id is the delivery id');
    assert.match(req.headers['webhook-id'], /^msg_/);
    assert.equal(req.headers['x-webhook-id'], listed.id, 'X-Webhook-Id');
    assert.match(req.headers['webhook-timestamp'] || '', /^\d+$/, 'webhook-timestamp in seconds');
    const ts = Number(req.headers['webhook-timestamp']);
    assert.ok(Math.abs(ts - t0 / 1000) < 60, `webhook-timestamp ${ts} is now`);
    const sigs = (req.headers['webhook-signature'] || '').split(' ');
    assert.equal(sigs.length, 1, `one signature for one secret: ${req.headers['webhook-signature']}`);
    assert.match(sigs[0], /^v1,[A-Za-z0-9+/]+=*$/);
    assert.equal(req.headers.authorization, `Bearer ${BEARER}`, 'auth.bearer');
    assert.equal(req.headers['x-api-key'], API_KEY, 'auth.headers');

    // The signature verifies with the reference library, and only with the secret.
    assert.equal(req.verified, true, `standardwebhooks verify: ${JSON.stringify(req.verify)}`);
    const hdrs = {
      'webhook-id': req.headers['webhook-id'],
      'webhook-timestamp': req.headers['webhook-timestamp'],
      'webhook-signature': req.headers['webhook-signature'],
    };
    assert.ok(new Webhook(SW).verify(req.text, hdrs), 'verify returns the payload');
    assert.throws(() => new Webhook(whsec()).verify(req.text, hdrs), 'another secret does not verify');
    assert.throws(() => new Webhook(SW).verify(req.text.replace('Printer', 'Scanner'), hdrs),
      'a changed body does not verify');

    // The envelope.
    const body = req.json;
    assert.ok(body, `the body is JSON: ${req.text.slice(0, 200)}`);
    assert.deepEqual(Object.keys(body).sort(), ['data', 'event', 'timestamp'], 'envelope keys');
    assert.equal(body.event, 'ticket.created');
    assert.match(body.timestamp, ISO_Z, 'timestamp is ISO 8601 UTC');
    assert.ok(Math.abs(Date.parse(body.timestamp) - Date.parse(ev.received_at)) < 1000,
      `timestamp ${body.timestamp} is when the event was received (${ev.received_at})`);
    assert.equal(body.data.id, evt, 'data is the normalized event');
    assert.equal(body.data.source, 's-sw');
    assert.equal(body.data.type, 'ticket.created');
    assert.deepEqual(body.data.ticket, ev.ticket, 'data.ticket');
    assert.equal(body.data.ticket.subject, 'Printer on fire');
    assert.deepEqual(body.data.customer, ev.customer, 'data.customer');

    // The delivery and its one attempt.
    assert.equal(d.attempt_count, 1);
    assert.equal(d.last_status, 200);
    assert.equal(d.last_outcome, 'http_2xx');
    assert.match(d.created_at, ISO_Z);
    assert.match(d.updated_at, ISO_Z);
    const [a] = attemptsOf(d);
    assert.equal(d.attempts.length, 1);
    checkAttemptShape(a, 1);
    assert.equal(a.status, 200);
    assert.equal(a.outcome, 'http_2xx');
    assert.equal(a.error, null);
    assert.equal(rx.forEvent(evt, '/sw').length, 1, 'sent once');
  });

  it('standard-webhooks with two secrets (rotation): two v1 signatures, each verifies alone', async () => {
    const evt = await postEvent(g, 's-rot');
    const [req] = await arrivals(rx, '/rot', evt);
    const d = await deliveryOf(g, evt, 'rot');
    assert.equal(req.headers['webhook-id'], d.id);
    const parts = (req.headers['webhook-signature'] || '').split(' ');
    assert.equal(parts.length, 2, `two signatures: ${req.headers['webhook-signature']}`);
    for (const p of parts) assert.match(p, /^v1,[A-Za-z0-9+/]+=*$/);
    const when = new Date(Number(req.headers['webhook-timestamp']) * 1000);
    const used = new Set();
    for (const [i, secret] of ROT.entries()) {
      const expected = new Webhook(secret).sign(req.headers['webhook-id'], when, req.text);
      const j = parts.indexOf(expected);
      assert.ok(j >= 0, `secret ${i + 1} has its own v1 signature`);
      used.add(j);
      // That signature alone, with that secret alone.
      new Webhook(secret).verify(req.text, {
        'webhook-id': req.headers['webhook-id'],
        'webhook-timestamp': req.headers['webhook-timestamp'],
        'webhook-signature': parts[j],
      });
    }
    assert.equal(used.size, 2, 'one signature per secret');
    assert.deepEqual(req.verify.standardWebhooks, [true, true], 'each secret verifies on its own');
    await waitState(g, d.id, 'delivered');
  });

  it('hex signing verifies with node:crypto; event_names renames header and envelope', async () => {
    const evt = await postEvent(g, 's-hex', 'ticket.created');
    const [req] = await arrivals(rx, '/hex', evt);
    const d = await deliveryOf(g, evt, 'hex');
    assert.equal(req.headers['x-webhook-signature'], hexSignature(HEX[0], req.body), 'hex HMAC-SHA256 of the body');
    assert.notEqual(req.headers['x-webhook-signature'], hexSignature(HEX[1], req.body), 'with the first secret');
    assert.equal(req.verified, true);
    assert.equal(req.headers['webhook-signature'], undefined, 'no Standard Webhooks signature');
    assert.equal(req.headers['x-webhook-id'], d.id, 'X-Webhook-Id is the delivery id');
    assert.equal(req.headers['x-webhook-event'], 'conversation.added', 'renamed in X-Webhook-Event');
    assert.equal(req.json.event, 'conversation.added', 'renamed in the envelope');
    assert.equal(req.json.data.id, evt);

    // A type without a rename keeps its name.
    const evt2 = await postEvent(g, 's-hex', 'ticket.updated');
    const [req2] = await arrivals(rx, '/hex', evt2);
    assert.equal(req2.headers['x-webhook-event'], 'ticket.updated');
    assert.equal(req2.json.event, 'ticket.updated');
    assert.equal(req2.verified, true);
    await waitState(g, d.id, 'delivered');
  });

  it('events wildcards and sources filters: a non-subscribed event creates no delivery', async () => {
    // filtered: events ["ticket.*"], sources [s-alpha]; everything: sources [s-beta].
    const cases = [
      ['s-alpha', 'ticket.created', ['filtered']],
      ['s-alpha', 'ticket.updated', ['filtered']],
      ['s-alpha', 'note.added', []],
      ['s-alpha', 'tickets.created', []],
      ['s-beta', 'ticket.created', ['everything']],
      ['s-beta', 'note.added', ['everything']],
    ];
    const posted = [];
    for (const [source, type, want] of cases) {
      const evt = await postEvent(g, source, type);
      // The deliveries are written with the event, so they exist once it is acknowledged.
      const ds = await deliveriesOfEvent(g, evt);
      assert.deepEqual(ds.map((d) => d.endpoint).sort(), want, `${type} on ${source}: ${JSON.stringify(ds)}`);
      posted.push({ evt, want, path: want.length ? `/${want[0]}` : null, type });
    }
    for (const p of posted.filter((x) => x.path)) {
      const [req] = await arrivals(rx, p.path, p.evt);
      assert.equal(req.headers['x-webhook-event'], p.type);
    }
    await sleep(200);
    for (const p of posted.filter((x) => !x.path)) {
      assert.equal(rx.forEvent(p.evt).length, 0, `${p.type} reached no receiver`);
    }
  });

  it('503 twice then 200: retry_wait, then delivered, with three recorded attempts', async () => {
    const big = '0123456789'.repeat(500); // 5,000 bytes: more than 4 KiB
    rx.behave('/retry', [
      { status: 503, headers: { 'X-Receiver-Note': 'attempt-1', 'Content-Type': 'text/plain' }, body: big, times: 1 },
      { status: 503, headers: { 'X-Receiver-Note': 'attempt-2', 'Content-Type': 'text/plain' }, body: 'try later', times: 1 },
      { status: 200, headers: { 'X-Receiver-Note': 'attempt-3' }, body: '{"ok":true}' },
    ]);
    const evt = await postEvent(g, 's-retry');
    const d0 = await deliveryOf(g, evt, 'retry');
    const { seen, snapshots, last } = await watchStates(g, d0.id, 8000);
    assert.equal(last.state, 'delivered', `states: ${seen.join(' > ')}`);
    assert.ok(seen.includes('retry_wait'), `retry_wait was seen: ${seen.join(' > ')}`);
    assert.ok(seen.indexOf('retry_wait') < seen.indexOf('delivered'));
    const waiting = snapshots.get('retry_wait');
    assert.ok(waiting.attempt_count === 1 || waiting.attempt_count === 2, `attempt_count ${waiting.attempt_count}`);
    assert.equal(waiting.last_status, 503);
    assert.equal(waiting.last_outcome, 'http_5xx');
    assert.match(waiting.next_attempt_at || '', ISO_Z, 'next_attempt_at while waiting');

    const d = await getDelivery(g, d0.id);
    assert.equal(d.attempt_count, 3);
    assert.equal(d.last_status, 200);
    assert.equal(d.last_outcome, 'http_2xx');
    const at = attemptsOf(d);
    assert.equal(at.length, 3, JSON.stringify(d.attempts));
    at.forEach((a, i) => checkAttemptShape(a, i + 1));
    assert.deepEqual(outcomes(d), ['http_5xx', 'http_5xx', 'http_2xx']);
    assert.deepEqual(statuses(d), [503, 503, 200]);
    at.forEach((a, i) => assert.equal(responseHeader(a, 'x-receiver-note'), `attempt-${i + 1}`, 'response headers'));
    assert.equal(at[0].response.body, big.slice(0, 4096), 'the first 4 KiB of the answer');
    assert.equal(at[0].response.body_truncated, true);
    assert.equal(at[1].response.body, 'try later');
    assert.equal(at[1].response.body_truncated, false);
    assert.equal(at[2].response.body, '{"ok":true}');
    assert.equal(at[2].response.body_truncated, false);

    const reqs = rx.forEvent(evt, '/retry');
    assert.equal(reqs.length, 3);
    for (const r of reqs) assert.equal(r.headers['webhook-id'] ?? r.headers['x-webhook-id'], d.id, 'same id on every retry');
    for (let i = 1; i < 3; i++) {
      const gap = reqs[i].time - reqs[i - 1].time;
      assert.ok(gap >= 150, `retry ${i} waited the schedule's 200 ms (less 20 % jitter): ${gap} ms`);
    }
  });

  it('429 with Retry-After: 1 waits at least a second despite a 100 ms schedule', async () => {
    rx.behave('/limited', retryAfter(1));
    const evt = await postEvent(g, 's-limited');
    const d0 = await deliveryOf(g, evt, 'limited');
    const d = await waitState(g, d0.id, 'delivered', 6000);
    const reqs = rx.forEvent(evt, '/limited');
    assert.equal(reqs.length, 2);
    const gap = reqs[1].time - reqs[0].time;
    assert.ok(gap >= 900, `the retry came ${gap} ms after the 429`);
    assert.ok(gap < 4000, `and not much later (${gap} ms)`);
    assert.deepEqual(outcomes(d), ['http_4xx', 'http_2xx']);
    assert.deepEqual(statuses(d), [429, 200]);
    assert.equal(responseHeader(attemptsOf(d)[0], 'retry-after'), '1');
  });

  it('no answer within timeout: outcome timeout, retried; replay while in flight is 409', async () => {
    rx.behave('/slow', hang(1));
    const evt = await postEvent(g, 's-slow');
    const d0 = await deliveryOf(g, evt, 'slow');
    await arrivals(rx, '/slow', evt, 1);
    // The first attempt is hanging: the delivery is in flight.
    const busy = await api(g, 'POST', `/api/deliveries/${d0.id}/replay`);
    assert.equal(busy.status, 409, `replay while in flight: ${busy.status} ${busy.text}`);
    assert.equal(errorOf(busy)?.code, 'conflict', busy.text);

    const d = await waitState(g, d0.id, 'delivered', 6000);
    assert.deepEqual(outcomes(d), ['timeout', 'http_2xx']);
    const [a1] = attemptsOf(d);
    assert.ok(a1.status === null || a1.status === undefined, `no status for a timeout: ${a1.status}`);
    assert.ok(a1.duration_ms >= 400 && a1.duration_ms < 4000, `the attempt lasted the timeout: ${a1.duration_ms} ms`);
    const reqs = rx.forEvent(evt, '/slow');
    assert.equal(reqs.length, 2);
    assert.ok(reqs[1].time - reqs[0].time >= 450, `retried after the 500 ms timeout (${reqs[1].time - reqs[0].time} ms)`);
    await rx.waitFor(() => reqs[0].aborted, 3000, 'the gateway to drop the hanging connection');
    assert.equal(reqs[1].headers['webhook-id'] ?? reqs[1].headers['x-webhook-id'], d.id);
  });

  it('exhausted attempts: dead; replay one delivery and an endpoint\'s dead ones; same webhook-id', async () => {
    rx.behave('/dead', always(500));
    const e1 = await postEvent(g, 's-dead');
    const d1 = await deliveryOf(g, e1, 'dead');
    const dead = await waitState(g, d1.id, 'dead', 5000);
    assert.equal(dead.attempt_count, 3);
    assert.deepEqual(outcomes(dead), ['http_5xx', 'http_5xx', 'http_5xx']);
    assert.equal(dead.last_outcome, 'http_5xx');
    assert.equal(dead.last_status, 500);
    await sleep(300);
    const before = rx.forEvent(e1, '/dead');
    assert.equal(before.length, 3, 'nothing is sent once dead');
    for (const r of before) assert.equal(r.headers['x-webhook-id'], d1.id);

    // Fix the receiver and replay the one delivery.
    rx.behave('/dead', ok());
    const rep = await api(g, 'POST', `/api/deliveries/${d1.id}/replay`);
    assert.equal(rep.status, 202, rep.text);
    assert.equal(rep.json.id, d1.id, 'the same delivery');
    assert.equal(rep.json.event_id, e1);
    assert.notEqual(rep.json.state, 'dead', `replayed: ${rep.text}`);
    await waitState(g, d1.id, 'delivered');
    const after1 = await arrivals(rx, '/dead', e1, 4);
    assert.equal(after1[3].headers['x-webhook-id'], d1.id, 'the replay carries the same webhook id');
    assert.equal(after1[3].json.data.id, e1);

    // Several dead deliveries, then one bulk replay of the endpoint's dead ones.
    rx.behave('/dead', always(500));
    const evts = [];
    for (let i = 0; i < 3; i++) evts.push(await postEvent(g, 's-dead'));
    const ds = [];
    for (const e of evts) ds.push(await deliveryOf(g, e, 'dead'));
    for (const d of ds) await waitState(g, d.id, 'dead', 5000);
    const deadListed = await listDeliveries(g, { endpoint: 'dead', state: 'dead' });
    assert.deepEqual(deadListed.map((d) => d.id).sort(), ds.map((d) => d.id).sort(), '?endpoint=&state=dead');
    for (const d of deadListed) assert.equal(d.state, 'dead');

    rx.behave('/dead', ok());
    const bulk = await api(g, 'POST', '/api/endpoints/dead/replay', { state: 'dead' });
    assert.equal(bulk.status, 202, bulk.text);
    assert.equal(bulk.json.replayed, 3, bulk.text);
    for (const [i, d] of ds.entries()) {
      await waitState(g, d.id, 'delivered');
      const reqs = await arrivals(rx, '/dead', evts[i], 4);
      assert.equal(reqs[3].headers['x-webhook-id'], d.id);
    }
    await sleep(200);
    assert.equal(rx.forEvent(e1, '/dead').length, 4, 'a delivered delivery is not replayed by state=dead');
  });

  it('POST /api/events/{id}/replay fans the event out again, to endpoints subscribed since too', async () => {
    const evt = await postEvent(g, 's-fan');
    const d1 = await deliveryOf(g, evt, 'fan1');
    await waitState(g, d1.id, 'delivered');
    await arrivals(rx, '/fan1', evt, 1);

    const created = await apiOk(g, 'POST', '/api/endpoints', {
      name: 'fan2', url: rx.url('/fan2'), sources: ['s-fan'], signing: 'none', allow_private: LOOP,
      retry: FAST, timeout: '5s',
    }, 201);
    const r = await apiOk(g, 'POST', `/api/events/${evt}/replay`, {}, 202);
    assert.equal(r.event_id, evt);
    assert.ok(Array.isArray(r.deliveries), JSON.stringify(r));
    assert.equal(r.deliveries.length, 2, JSON.stringify(r));
    const r1 = r.deliveries.find((x) => x.endpoint === 'fan1');
    const r2 = r.deliveries.find((x) => isEndpoint(x.endpoint, created));
    assert.ok(r1 && r2, JSON.stringify(r));
    assert.equal(r1.id, d1.id, 'one delivery per event and endpoint: the same id again');
    assert.match(r2.id, /^msg_/);
    assert.notEqual(r2.id, d1.id);
    for (const x of r.deliveries) assert.equal(typeof x.state, 'string');

    const again = await arrivals(rx, '/fan1', evt, 2);
    assert.equal(again[1].headers['x-webhook-id'], d1.id);
    const [first2] = await arrivals(rx, '/fan2', evt, 1);
    assert.equal(first2.headers['x-webhook-id'], r2.id);
    await waitState(g, d1.id, 'delivered');
    await waitState(g, r2.id, 'delivered');
    assert.equal((await api(g, 'DELETE', '/api/endpoints/fan2')).status, 204);
  });

  it('a 400 is permanent; a 410 kills the delivery and pauses the endpoint until resumed', async () => {
    rx.behave('/perm', always(400, { body: '{"error":"malformed"}' }));
    const e1 = await postEvent(g, 's-perm');
    const p = await deliveryOf(g, e1, 'perm');
    const pd = await waitState(g, p.id, 'dead');
    assert.equal(pd.attempt_count, 1);
    assert.deepEqual(outcomes(pd), ['http_4xx']);
    assert.deepEqual(statuses(pd), [400]);
    assert.equal(pd.last_outcome, 'http_4xx');
    assert.equal(attemptsOf(pd)[0].response.body, '{"error":"malformed"}');
    await sleep(300);
    assert.equal(rx.forEvent(e1, '/perm').length, 1, 'not retried');
    assert.equal((await getEndpoint(g, 'perm')).status.paused, false, 'a 400 does not pause');

    rx.behave('/gone', gone());
    const e2 = await postEvent(g, 's-gone');
    const gd0 = await deliveryOf(g, e2, 'gone');
    const gd = await waitState(g, gd0.id, 'dead');
    assert.equal(gd.attempt_count, 1);
    assert.deepEqual(outcomes(gd), ['http_4xx']);
    assert.deepEqual(statuses(gd), [410]);
    const paused = await waitEndpoint(g, 'gone', (e) => e.status?.paused === true, 3000, 'paused');
    assert.ok(paused.status.paused_reason, `paused_reason: ${JSON.stringify(paused.status)}`);

    // Paused: new events are accepted and wait.
    const e3 = await postEvent(g, 's-gone');
    const d3 = await deliveryOf(g, e3, 'gone');
    await sleep(300);
    assert.equal((await getDelivery(g, d3.id)).state, 'pending');
    assert.equal(rx.forEvent(e3, '/gone').length, 0);

    rx.behave('/gone', ok());
    const resumed = await apiOk(g, 'POST', '/api/endpoints/gone/resume', {});
    assert.equal(resumed.status.paused, false);
    assert.equal(resumed.status.paused_reason, null);
    await waitState(g, d3.id, 'delivered');
    const [req] = await arrivals(rx, '/gone', e3);
    assert.equal(req.headers['x-webhook-id'], d3.id);
    assert.equal((await getDelivery(g, gd0.id)).state, 'dead', 'the dead one stays dead');
  });

  it('pause: events are accepted and deliveries stay pending; after resume they arrive', async () => {
    const paused = await apiOk(g, 'POST', '/api/endpoints/pausable/pause', {});
    assert.equal(paused.status.paused, true);
    assert.equal(paused.name, 'pausable');
    assert.equal((await getEndpoint(g, 'pausable')).status.paused, true);

    const evts = [];
    for (let i = 0; i < 3; i++) evts.push(await postEvent(g, 's-pausable'));
    const ds = [];
    for (const e of evts) ds.push(await deliveryOf(g, e, 'pausable'));
    await sleep(500);
    for (const d of ds) {
      const now = await getDelivery(g, d.id);
      assert.equal(now.state, 'pending', `paused: ${JSON.stringify(now)}`);
      assert.equal(now.attempt_count, 0);
    }
    assert.equal(rx.count('/pausable'), 0, 'nothing sent while paused');
    const stats = (await api(g, 'GET', '/api/stats')).json;
    for (const k of ['pending', 'in_flight', 'retry_wait', 'delivered', 'dead']) {
      assert.equal(typeof stats?.deliveries?.[k], 'number', `stats.deliveries.${k}: ${JSON.stringify(stats?.deliveries)}`);
    }
    assert.ok(stats.deliveries.pending >= 3, 'stats count the pending ones');

    const resumed = await apiOk(g, 'POST', '/api/endpoints/pausable/resume', {});
    assert.equal(resumed.status.paused, false);
    for (const [i, d] of ds.entries()) {
      await waitState(g, d.id, 'delivered');
      const reqs = await arrivals(rx, '/pausable', evts[i]);
      assert.equal(reqs.length, 1);
      assert.equal(reqs[0].headers['x-webhook-id'], d.id);
    }
  });

  it('circuit breaker: opens after 3 failures, spends no attempts while cooling down, probes, closes', async (t) => {
    rx.behave('/breaker', always(503));
    const e1 = await postEvent(g, 's-breaker');
    const d1 = await deliveryOf(g, e1, 'breaker');
    const three = await rx.waitForCount('/breaker', 3, 4000);
    const opened = await waitEndpoint(g, 'breaker', (e) => e.status?.breaker?.state === 'open', 2000, 'breaker open');
    const tOpen = three[2].time;
    assert.ok(opened.status.breaker.consecutive_failures >= 3, JSON.stringify(opened.status));
    assert.match(opened.status.breaker.probe_at || '', ISO_Z, 'probe_at');

    // A second event while open: it waits too. Attempt counts are read well
    // inside the cool-down (and only trusted if no probe went out meanwhile).
    const e2 = await postEvent(g, 's-breaker');
    const d2 = await deliveryOf(g, e2, 'breaker');
    await sleep(Math.max(0, tOpen + 600 - Date.now()));
    const a1 = (await getDelivery(g, d1.id)).attempt_count;
    const a2 = (await getDelivery(g, d2.id)).attempt_count;
    if (rx.count('/breaker') === 3) {
      assert.equal(a1, 3, 'no attempt spent during the cool-down');
      assert.equal(a2, 0, 'the other delivery waits');
    } else {
      t.diagnostic('the attempt counts were read after the cool-down; only the request times are checked');
    }

    // One probe after the cool-down; it fails, and the breaker opens again.
    await rx.waitForCount('/breaker', 4, 3000);
    await waitEndpoint(g, 'breaker', (e) => e.status?.breaker?.state === 'open', 2000, 'breaker open again');

    // Healthy again: the next probe closes it and both deliveries go out.
    rx.behave('/breaker', ok());
    const closed = await waitEndpoint(g, 'breaker', (e) => e.status?.breaker?.state === 'closed', 4000, 'breaker closed');
    assert.equal(closed.status.breaker.consecutive_failures, 0);
    await waitState(g, d1.id, 'delivered', 4000);
    await waitState(g, d2.id, 'delivered', 4000);

    // From the receiver's side: three failures, then one probe per cool-down
    // (each at least ~1 s after the one before) until one succeeds.
    const reqs = rx.requests('/breaker');
    const firstOk = reqs.findIndex((r) => r.answered?.status === 200);
    assert.ok(firstOk >= 4, `at least one failed probe before the good one (first 200 at #${firstOk + 1})`);
    for (let i = 3; i <= firstOk; i++) {
      const gap = reqs[i].time - reqs[i - 1].time;
      assert.ok(gap >= 900, `request #${i + 1} waited the 1 s cool-down (${gap} ms after #${i})`);
    }
    for (let i = 0; i < 3; i++) assert.equal(reqs[i].eventId, e1, 'the first three are the first event');
    assert.equal(reqs.filter((r) => r.eventId === e2 && r.time < reqs[3].time).length, 0,
      'the second event was not sent before the first probe');
    const log = g.rawLines.join('\n');
    assert.match(log, /breaker opened/, 'logged: breaker opened');
    assert.match(log, /breaker closed/, 'logged: breaker closed');
  });

  it('SSRF guard: loopback by address or by name is refused; allow_private on the endpoint lets it through', async () => {
    const evt = await postEvent(g, 's-ssrf');
    const ds = await deliveriesOfEvent(g, evt);
    assert.deepEqual(ds.map((d) => d.endpoint).sort(), ['ssrf-ip', 'ssrf-name', 'ssrf-ok']);
    const byName = Object.fromEntries(ds.map((d) => [d.endpoint, d]));
    for (const name of ['ssrf-ip', 'ssrf-name']) {
      const d = await waitState(g, byName[name].id, 'dead');
      assert.equal(d.attempt_count, 1, `${name}: not retried`);
      assert.deepEqual(outcomes(d), ['ssrf_refused'], name);
      assert.equal(d.last_outcome, 'ssrf_refused', name);
      const a = attemptsOf(d)[0];
      assert.ok(a.status === null || a.status === undefined, `${name}: no HTTP status`);
    }
    await waitState(g, byName['ssrf-ok'].id, 'delivered');
    await arrivals(rx, '/ssrf-ok', evt);
    await sleep(200);
    assert.equal(rx.count('/ssrf-ip'), 0, 'the receiver saw nothing from the refused endpoints');
    assert.equal(rx.count('/ssrf-name'), 0);
  });

  it('a 302 is not followed: outcome http_3xx, dead', async () => {
    rx.behave('/redirect', redirect(rx.url('/redirect-target')));
    const evt = await postEvent(g, 's-redirect');
    const d0 = await deliveryOf(g, evt, 'redirect');
    const d = await waitState(g, d0.id, 'dead');
    assert.equal(d.attempt_count, 1);
    assert.deepEqual(outcomes(d), ['http_3xx']);
    assert.deepEqual(statuses(d), [302]);
    assert.equal(responseHeader(attemptsOf(d)[0], 'location'), rx.url('/redirect-target'));
    await sleep(200);
    assert.equal(rx.count('/redirect-target'), 0, 'the redirect was not followed');
    assert.equal(rx.forEvent(evt, '/redirect').length, 1);
  });

  it('format slack: attachments with a colour and a title', async () => {
    const n0 = rx.count('/slack');
    const evt = await postEvent(g, 's-slack', 'ticket.created', { subject: 'Slack me' });
    const reqs = await rx.waitForCount('/slack', n0 + 1);
    const req = reqs[n0];
    const d = await deliveryOf(g, evt, 'slack');
    assert.equal(req.headers['x-webhook-id'], d.id);
    assert.equal(req.headers['x-webhook-event'], 'ticket.created');
    assert.match(req.headers['content-type'] || '', /^application\/json\b/);
    const body = req.json;
    assert.ok(body && Array.isArray(body.attachments) && body.attachments.length >= 1, req.text);
    const att = body.attachments[0];
    assert.match(att.color || '', /^#[0-9a-fA-F]{6}$/, `attachments[0].color: ${att.color}`);
    assert.equal(typeof att.title, 'string');
    assert.ok(att.title.length > 0, 'attachments[0].title');
    assert.equal(body.event, undefined, 'not the standard envelope');
    await waitState(g, d.id, 'delivered');

    // A Slack webhook URL is a credential: the API shows only its host.
    const shown = await getEndpoint(g, 'slack');
    const u = new URL(rx.url('/slack'));
    assert.equal(shown.url, `${u.protocol}//${u.host}/${MASK}`);
  });

  it('endpoints API: create, conflict, bad definition, patch, read-only config endpoints, delete', async () => {
    const unauth = await api(g, 'GET', '/api/endpoints', undefined, { token: null });
    assert.equal(unauth.status, 401, unauth.text);
    assert.equal(errorOf(unauth)?.code, 'unauthorized');

    const def = {
      name: 'api-one', url: rx.url('/api-one'), sources: ['s-api'], secrets: [API_SEC],
      auth: { bearer: API_BEARER }, allow_private: LOOP, retry: FAST, timeout: '5s',
    };
    const cr = await api(g, 'POST', '/api/endpoints', def);
    assert.equal(cr.status, 201, cr.text);
    const c = cr.json;
    assert.match(c.id, /^ep_/, 'a generated id');
    assert.equal(c.name, 'api-one');
    assert.equal(c.origin, 'api');
    assert.equal(c.url, rx.url('/api-one'));
    assert.deepEqual(c.sources, ['s-api']);
    assert.deepEqual(c.secrets, [MASK], 'secrets masked');
    assert.equal(c.auth?.bearer, MASK, 'token masked');
    assert.ok(!cr.text.includes(API_SEC.replace(/^whsec_/, '')) && !cr.text.includes(API_BEARER), 'no secret in the answer');
    assert.equal(c.status?.paused, false);
    assert.equal(c.status?.breaker?.state, 'closed');

    // By name and by id; in the list with the config endpoints.
    assert.equal((await getEndpoint(g, 'api-one')).id, c.id);
    assert.equal((await getEndpoint(g, c.id)).name, 'api-one');
    const list = await api(g, 'GET', '/api/endpoints');
    assert.equal(list.status, 200, list.text);
    const one = list.json.items.find((e) => e.name === 'api-one');
    assert.equal(one?.id, c.id);
    const sw = list.json.items.find((e) => e.name === 'sw');
    assert.equal(sw?.id, 'sw', 'a config endpoint\'s id is its name');
    assert.equal(sw?.origin, 'config');
    assert.deepEqual(sw?.secrets, [MASK]);
    assert.equal(sw?.auth?.bearer, MASK);
    for (const s of secretNeedles()) assert.ok(!list.text.includes(s), 'no secret in the endpoint list');
    const nf = await api(g, 'GET', '/api/endpoints/nosuch');
    assert.equal(nf.status, 404);
    assert.equal(errorOf(nf)?.code, 'not_found');

    // A taken name, from the API or from the config.
    for (const name of ['api-one', 'sw']) {
      const dup = await api(g, 'POST', '/api/endpoints', { ...def, name });
      assert.equal(dup.status, 409, `duplicate ${name}: ${dup.status} ${dup.text}`);
      assert.equal(errorOf(dup)?.code, 'conflict', dup.text);
    }

    // Bad definitions: 400 naming every bad key.
    const bad = await api(g, 'POST', '/api/endpoints', {
      name: 'api-bad', url: 'ftp://example.com/x', timeout: 'soon', colour: 'red',
    });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(errorOf(bad)?.code, 'bad_request');
    for (const key of ['url', 'timeout', 'colour']) {
      assert.match(errorOf(bad)?.message || '', new RegExp(`\\b${key}\\b`), `the message names ${key}: ${bad.text}`);
    }
    const badName = await api(g, 'POST', '/api/endpoints', { name: 'Bad Name!', url: rx.url('/x') });
    assert.equal(badName.status, 400, badName.text);
    assert.match(errorOf(badName)?.message || '', /\bname\b/, badName.text);
    const noUrl = await api(g, 'POST', '/api/endpoints', { name: 'api-nourl' });
    assert.equal(noUrl.status, 400, noUrl.text);
    assert.match(errorOf(noUrl)?.message || '', /\burl\b/, noUrl.text);
    const notJson = await api(g, 'POST', '/api/endpoints', '{"name": ');
    assert.equal(notJson.status, 400, notJson.text);
    for (const n of ['api-bad', 'api-nourl']) {
      assert.equal((await api(g, 'GET', `/api/endpoints/${n}`)).status, 404, `${n} was not created`);
    }

    // It delivers, signed with its secret and with its token.
    const e1 = await postEvent(g, 's-api');
    const [r1] = await arrivals(rx, '/api-one', e1);
    const d1 = await deliveryOf(g, e1, c);
    assert.equal(r1.headers['webhook-id'], d1.id);
    assert.equal(r1.verified, true, JSON.stringify(r1.verify));
    assert.equal(r1.headers.authorization, `Bearer ${API_BEARER}`);

    // PATCH merges: a new url, and null removes auth.
    const pr = await api(g, 'PATCH', '/api/endpoints/api-one', { url: rx.url('/api-one-b'), auth: null });
    assert.equal(pr.status, 200, pr.text);
    assert.equal(pr.json.url, rx.url('/api-one-b'));
    assert.equal(pr.json.id, c.id, 'same id');
    assert.ok(pr.json.auth === undefined || pr.json.auth === null, `auth removed: ${JSON.stringify(pr.json.auth)}`);
    assert.deepEqual(pr.json.secrets, [MASK], 'the secret is kept');
    assert.equal((await getEndpoint(g, 'api-one')).url, rx.url('/api-one-b'));
    const badPatch = await api(g, 'PATCH', '/api/endpoints/api-one', { timeout: 'soon' });
    assert.equal(badPatch.status, 400, badPatch.text);
    assert.match(errorOf(badPatch)?.message || '', /\btimeout\b/);
    assert.equal((await getEndpoint(g, 'api-one')).url, rx.url('/api-one-b'), 'a refused PATCH changes nothing');
    const e2 = await postEvent(g, 's-api');
    const [r2] = await arrivals(rx, '/api-one-b', e2);
    assert.equal(r2.verified, true);
    assert.equal(r2.headers.authorization, undefined, 'no auth any more');
    assert.equal(rx.forEvent(e2, '/api-one').length, 0);

    // What GET shows can be sent back: the id, origin and status it adds are
    // ignored, and masked secrets keep their stored values.
    const shown = await getEndpoint(g, 'api-one');
    const back = await api(g, 'PATCH', '/api/endpoints/api-one', { ...shown, timeout: '4s' });
    assert.equal(back.status, 200, back.text);
    assert.deepEqual(back.json.secrets, [MASK]);
    const e2b = await postEvent(g, 's-api');
    const [r2b] = await arrivals(rx, '/api-one-b', e2b);
    assert.equal(r2b.verified, true, 'still signed with the stored secret, not with the mask');

    // Config endpoints are read-only.
    for (const [method, body] of [['PATCH', { url: rx.url('/elsewhere') }], ['DELETE', undefined]]) {
      const ro = await api(g, method, '/api/endpoints/sw', body);
      assert.equal(ro.status, 409, `${method} a config endpoint: ${ro.status} ${ro.text}`);
      assert.equal(errorOf(ro)?.code, 'read_only', ro.text);
    }
    assert.equal((await getEndpoint(g, 'sw')).url, rx.url('/sw'));

    // DELETE: 204, then 404; its unfinished deliveries become dead.
    await apiOk(g, 'POST', '/api/endpoints/api-one/pause', {});
    const e3 = await postEvent(g, 's-api');
    const d3 = await deliveryOf(g, e3, c);
    assert.equal((await getDelivery(g, d3.id)).state, 'pending');
    const del = await api(g, 'DELETE', `/api/endpoints/${c.id}`);
    assert.equal(del.status, 204, del.text);
    assert.equal(del.body.length, 0, '204 has no body');
    const gone404 = await api(g, 'GET', '/api/endpoints/api-one');
    assert.equal(gone404.status, 404, gone404.text);
    assert.equal(errorOf(gone404)?.code, 'not_found');
    assert.equal((await api(g, 'DELETE', '/api/endpoints/api-one')).status, 404);
    await waitDelivery(g, d3.id, (d) => d.state === 'dead', 3000, 'dead after its endpoint was deleted');
    assert.equal(rx.forEvent(e3).length, 0, 'never sent');
    assert.deepEqual(await deliveriesOfEvent(g, await postEvent(g, 's-api')), [], 'a deleted endpoint gets nothing new');
  });

  it('no secret or token of any endpoint appears in the gateway log', () => {
    assert.ok(g.rawLines.length > 0, 'the gateway logged');
    const log = g.rawLines.join('\n');
    for (const s of secretNeedles()) {
      assert.ok(!log.includes(s), `the log contains a secret (${s.slice(0, 6)}…)`);
    }
  });
});

describe('SSRF allow lists from the environment and from delivery:', () => {
  let rx;
  const gs = [];
  before(async () => { rx = await startReceiver(); });
  after(async () => {
    for (const g of gs) await cleanup(g);
    await rx?.close();
  });

  const config = (path, delivery) => deliveryConfig({
    sources: ['s-in'],
    delivery,
    endpoints: [{
      name: 'out', url: rx.url(path), sources: ['s-in'], signing: 'standard-webhooks', secrets: [SW],
      timeout: '5s', retry: FAST,
    }],
  });

  async function deliversTo(g, path) {
    const evt = await postEvent(g, 's-in');
    const d = await deliveryOf(g, evt, 'out');
    const done = await waitDelivery(g, d.id, (x) => x.state === 'delivered' || x.state === 'dead', 5000, 'an end state');
    assert.equal(done.state, 'delivered', `outcomes: ${outcomes(done)}`);
    const [req] = await arrivals(rx, path, evt);
    assert.equal(req.headers['webhook-id'], d.id);
    return g;
  }

  it('DESKHOOK_ALLOW_PRIVATE=127.0.0.0/8,::1/128 lets an endpoint reach loopback', async () => {
    const g = await start(config('/env-ok'), { env: { DESKHOOK_ALLOW_PRIVATE: '127.0.0.0/8,::1/128' } });
    gs.push(g);
    await deliversTo(g, '/env-ok');
    const log = g.rawLines.join('\n');
    assert.ok(!log.includes(SW.replace(/^whsec_/, '')), 'no secret in the log');
  });

  it('delivery.allow_private lets every endpoint reach loopback; without it, ssrf_refused', async () => {
    const g = await start(config('/cfg-ok', { allow_private: LOOP }), { env: { DESKHOOK_ALLOW_PRIVATE: undefined } });
    gs.push(g);
    await deliversTo(g, '/cfg-ok');

    const g2 = await start(config('/cfg-refused'), { env: { DESKHOOK_ALLOW_PRIVATE: undefined } });
    gs.push(g2);
    const evt = await postEvent(g2, 's-in');
    const d = await deliveryOf(g2, evt, 'out');
    const dead = await waitState(g2, d.id, 'dead');
    assert.deepEqual(outcomes(dead), ['ssrf_refused']);
    await sleep(100);
    assert.equal(rx.count('/cfg-refused'), 0);
  });
});
