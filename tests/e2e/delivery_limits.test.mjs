// Outbound delivery limits and less common paths, against the local
// receiver (lib/receiver.mjs stands in for a customer's webhook receiver):
// max_in_flight and rate per endpoint, redirects followed only when allowed
// and then re-checked by the SSRF guard, a refused connection, too_large,
// the template format, and a pause that survives a restart.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import os from 'node:os';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start, cleanup } from './lib/gateway.mjs';
import { startReceiver, ok, delayed, redirect } from './lib/receiver.mjs';
import {
  api, apiOk, postEvent, deliveryOf, deliveriesOfEvent, waitState, waitDelivery, getEndpoint, attemptsOf, deliveryConfig,
} from './lib/delivery.mjs';

const LOOP = ['127.0.0.0/8'];
const FAST = { schedule: ['0s', '100ms', '100ms'], max_attempts: 3 };

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

const NAMES = ['conc', 'rate', 'follow', 'follow-private', 'refused', 'big', 'tmpl', 'keep', 'tls', 'slackapi', 'h2', 'put', 'off'];

describe('delivery limits', () => {
  let rx;
  let g;
  let cfg;

  before(async () => {
    rx = await startReceiver();
    cfg = deliveryConfig({
      sources: NAMES.map((n) => `s-${n}`),
      endpoints: [
        ep(rx, 'conc', { max_in_flight: 3 }),
        ep(rx, 'rate', { rate: 5 }),
        ep(rx, 'follow', { follow_redirects: true }),
        ep(rx, 'follow-private', { follow_redirects: true }),
        // A port nothing listens on: the connection is refused.
        ep(rx, 'refused', { url: 'http://127.0.0.1:1/x', retry: { schedule: ['0s', '10s'], max_attempts: 2 } }),
        ep(rx, 'big', { max_payload: '100B' }),
        ep(rx, 'tmpl', {
          format: 'template',
          template: { text: 'New {{event}} from {{source}}', ticket: '{{data.ticket.id}}', id: '{{webhook_id}}' },
        }),
        ep(rx, 'keep'),
        ep(rx, 'put', { method: 'PUT', auth: { basic: { username: 'hook', password: 'pw-limits' } } }),
        ep(rx, 'off', { active: false }),
      ],
    });
    g = await start(cfg, { env: { DESKHOOK_ALLOW_PRIVATE: undefined } });
  });
  after(async () => {
    await cleanup(g);
    await rx.close();
  });

  it('max_in_flight: never more requests at once than allowed', async () => {
    rx.behave('/conc', delayed(150));
    const ids = [];
    for (let i = 0; i < 12; i++) ids.push(await postEvent(g, 's-conc'));
    await rx.waitFor(() => rx.requests('/conc').filter((r) => r.answered).length >= 12, 15000, '12 answered');
    const reqs = rx.requests('/conc');
    let most = 0;
    for (const r of reqs) {
      const open = reqs.filter((o) => o.time <= r.time && (!o.answered || o.answered.time > r.time)).length;
      most = Math.max(most, open);
    }
    assert.ok(most <= 3, `at most 3 at once (saw ${most})`);
    assert.equal(most, 3, 'the limit is used');
    for (const id of ids) await waitState(g, (await deliveryOf(g, id, 'conc')).id, 'delivered');
  });

  it('a slow HTTP/1.1 receiver gets events posted one by one in parallel, not queued on one connection', async () => {
    rx.behave('/conc', delayed(400));
    const n0 = rx.count('/conc');
    for (let i = 0; i < 3; i++) await postEvent(g, 's-conc');
    await rx.waitFor(() => rx.count('/conc') >= n0 + 3, 5000, '3 requests');
    const reqs = rx.requests('/conc').slice(n0);
    assert.ok(reqs[2].time - reqs[0].time < 300,
      `the third request went out while the first waited for its answer (${reqs[2].time - reqs[0].time} ms apart)`);
    await rx.waitFor(() => rx.requests('/conc').slice(n0).every((r) => r.answered), 5000, 'answers');
  });

  it('delivery.max_in_flight bounds all endpoints together', async () => {
    const rx2 = await startReceiver();
    const g2 = await start(deliveryConfig({
      sources: ['s-a', 's-b'],
      delivery: { max_in_flight: 2 },
      endpoints: [
        { ...ep(rx2, 'a', { max_in_flight: 5 }), sources: ['s-a'] },
        { ...ep(rx2, 'b', { max_in_flight: 5 }), sources: ['s-b'] },
      ],
    }), { env: { DESKHOOK_ALLOW_PRIVATE: undefined } });
    try {
      rx2.behave('*', delayed(100));
      for (let i = 0; i < 5; i++) {
        await postEvent(g2, 's-a');
        await postEvent(g2, 's-b');
      }
      await rx2.waitFor(() => rx2.requests().filter((r) => r.answered).length >= 10, 15000, '10 answered');
      const reqs = rx2.requests();
      let most = 0;
      for (const r of reqs) {
        most = Math.max(most, reqs.filter((o) => o.time <= r.time && (!o.answered || o.answered.time > r.time)).length);
      }
      assert.ok(most <= 2, `at most 2 at once over both endpoints (saw ${most})`);
    } finally {
      await cleanup(g2);
      await rx2.close();
    }
  });

  it('rate: 5 per second spreads 10 deliveries over at least a second', async () => {
    rx.behave('/rate', ok());
    for (let i = 0; i < 10; i++) await postEvent(g, 's-rate');
    await rx.waitFor(() => rx.count('/rate') >= 10, 10000, '10 requests');
    const t = rx.requests('/rate').map((r) => r.time).sort((a, b) => a - b);
    assert.ok(t[9] - t[0] >= 800, `10 requests at 5/s take about a second (took ${t[9] - t[0]} ms)`);
  });

  it('follow_redirects: the POST follows, and each hop passes the SSRF guard', async () => {
    rx.behave('/follow', redirect(rx.url('/follow-2'), 307));
    rx.behave('/follow-2', ok());
    const e1 = await postEvent(g, 's-follow');
    const d1 = await deliveryOf(g, e1, 'follow');
    const done = await waitState(g, d1.id, 'delivered');
    assert.equal(done.last_status, 200);
    const [hop] = rx.requests('/follow-2');
    assert.equal(hop.method, 'POST');
    assert.equal(hop.json?.data?.id, e1, 'the body follows the redirect');

    // A redirect to a private address the endpoint may not reach.
    rx.behave('/follow-private', redirect('http://10.255.255.1:9/inside', 302));
    const e2 = await postEvent(g, 's-follow-private');
    const d2 = await deliveryOf(g, e2, 'follow-private');
    const dead = await waitState(g, d2.id, 'dead');
    assert.equal(dead.last_outcome, 'ssrf_refused', JSON.stringify(dead));
    assert.equal(attemptsOf(dead).length, 1, 'refused at once, not retried');
  });

  it('a refused connection is connect_failed and waits for a retry', async () => {
    const e = await postEvent(g, 's-refused');
    const d = await deliveryOf(g, e, 'refused');
    const w = await waitDelivery(g, d.id, (x) => x.state === 'retry_wait', 5000, 'retry_wait');
    assert.equal(w.last_outcome, 'connect_failed');
    assert.equal(w.last_status, null);
    assert.match(attemptsOf(w)[0].error || '', /\S/, 'the attempt says why');
  });

  it('an HTTPS receiver whose certificate does not verify: tls_failed, retried', async () => {
    // A self-signed certificate made for this test: libcurl must refuse it.
    const dir = fs.mkdtempSync(`${os.tmpdir()}/dh-tls-`);
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`]);
    assert.equal(r.status, 0, `openssl: ${r.stderr}`);
    const seen = [];
    const srv = https.createServer({ key: fs.readFileSync(`${dir}/key.pem`), cert: fs.readFileSync(`${dir}/cert.pem`) },
      (req, res) => { seen.push(req.url); res.end('ok'); });
    await new Promise((res) => srv.listen(0, '127.0.0.1', res));
    try {
      const def = {
        name: 'tls', url: `https://127.0.0.1:${srv.address().port}/hook`, sources: ['s-tls'],
        signing: 'none', allow_private: LOOP, retry: { schedule: ['0s', '10s'], max_attempts: 2 },
      };
      const created = await apiOk(g, 'POST', '/api/endpoints', def, 201);
      const e = await postEvent(g, 's-tls');
      const d = await deliveryOf(g, e, created);
      const w = await waitDelivery(g, d.id, (x) => x.state === 'retry_wait', 5000, 'retry_wait');
      assert.equal(w.last_outcome, 'tls_failed', JSON.stringify(w));
      assert.deepEqual(seen, [], 'no request got through');
    } finally {
      srv.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('HTTPS with tls.ca_file: HTTP/2, many deliveries multiplexed on one connection', async () => {
    const dir = fs.mkdtempSync(`${os.tmpdir()}/dh-h2-`);
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`]);
    assert.equal(r.status, 0, `openssl: ${r.stderr}`);
    const seen = [];
    let sessions = 0;
    const srv = http2.createSecureServer({
      key: fs.readFileSync(`${dir}/key.pem`), cert: fs.readFileSync(`${dir}/cert.pem`), allowHTTP1: true,
    }, (req, res) => {
      seen.push(req.httpVersion);
      req.resume();
      req.on('end', () => setTimeout(() => res.end('ok'), 20));
    });
    srv.on('session', () => { sessions++; });
    await new Promise((res) => srv.listen(0, '127.0.0.1', res));
    try {
      const created = await apiOk(g, 'POST', '/api/endpoints', {
        name: 'h2', url: `https://127.0.0.1:${srv.address().port}/hook`, sources: ['s-h2'],
        signing: 'none', allow_private: LOOP, tls: { ca_file: `${dir}/cert.pem` }, max_in_flight: 20,
      }, 201);
      assert.equal(created.tls?.ca_file, `${dir}/cert.pem`);
      const ids = [];
      for (let i = 0; i < 20; i++) ids.push(await postEvent(g, 's-h2'));
      for (const id of ids) await waitState(g, (await deliveryOf(g, id, created)).id, 'delivered');
      assert.equal(seen.length, 20);
      assert.ok(seen.every((v) => v === '2.0'), `HTTP versions: ${[...new Set(seen)]}`);
      assert.ok(sessions <= 2, `20 requests on ${sessions} connection(s)`);
      // A CA file that is not there is refused with the key named.
      const bad = await api(g, 'POST', '/api/endpoints', {
        name: 'h2-bad', url: 'https://example.com/x', tls: { ca_file: `${dir}/none.pem` },
      });
      assert.equal(bad.status, 400, bad.text);
      assert.match(bad.json?.error?.message || '', /tls\.ca_file/);
    } finally {
      srv.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a body over max_payload is too_large, dead, never sent', async () => {
    const e = await postEvent(g, 's-big');
    const d = await deliveryOf(g, e, 'big');
    const dead = await waitState(g, d.id, 'dead');
    assert.equal(dead.last_outcome, 'too_large');
    assert.equal(rx.count('/big'), 0);
  });

  it('format template renders over the event', async () => {
    const e = await postEvent(g, 's-tmpl', 'ticket.created', { ticket_id: 'T-42' });
    const d = await deliveryOf(g, e, 'tmpl');
    await waitState(g, d.id, 'delivered');
    const [r] = rx.requests('/tmpl');
    assert.deepEqual(r.json, { text: 'New ticket.created from s-tmpl', ticket: 'T-42', id: d.id });
  });

  it('a Slack URL is masked in answers and kept when the answer is sent back', async () => {
    const created = await apiOk(g, 'POST', '/api/endpoints', {
      name: 'slack-api', url: rx.url('/services/T000/B000/secretpart'), format: 'slack',
      sources: ['s-slackapi'], allow_private: LOOP,
    }, 201);
    assert.ok(!JSON.stringify(created).includes('secretpart'), 'the path is not shown');
    assert.match(created.url, /\/\*{8}$/);
    const back = await apiOk(g, 'PATCH', '/api/endpoints/slack-api', { ...created, timeout: '3s' });
    assert.equal(back.url, created.url);
    const e = await postEvent(g, 's-slackapi');
    const [r] = await rx.waitForCount('/services/T000/B000/secretpart', 1);
    assert.ok(Array.isArray(r.json?.attachments), 'sent to the stored URL');
    await waitState(g, (await deliveryOf(g, e, created)).id, 'delivered');
  });

  it('method PUT with basic auth; an inactive endpoint gets no deliveries', async () => {
    const e = await postEvent(g, 's-put');
    await waitState(g, (await deliveryOf(g, e, 'put')).id, 'delivered');
    const [r] = rx.forEvent(e, '/put');
    assert.equal(r.method, 'PUT');
    assert.equal(r.headers.authorization, `Basic ${Buffer.from('hook:pw-limits').toString('base64')}`);

    const off = await postEvent(g, 's-off');
    await new Promise((res) => setTimeout(res, 300));
    assert.deepEqual(await deliveriesOfEvent(g, off), [], 'no delivery for an inactive endpoint');
    assert.equal(rx.count('/off'), 0);
  });

  it('a pause survives a restart', async () => {
    await apiOk(g, 'POST', '/api/endpoints/keep/pause', {});
    const e = await postEvent(g, 's-keep');
    await g.stop();
    g = await start(cfg, { dir: g.dir, env: { DESKHOOK_ALLOW_PRIVATE: undefined } });
    const st = await getEndpoint(g, 'keep');
    assert.equal(st.status.paused, true, 'still paused');
    assert.match(st.status.paused_reason || '', /API/);
    const d = await deliveryOf(g, e, 'keep');
    assert.equal(d.state, 'pending');
    await apiOk(g, 'POST', '/api/endpoints/keep/resume', {});
    await waitState(g, d.id, 'delivered');
  });
});
