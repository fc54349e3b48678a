// Outbound delivery while the store cannot write: the fsync shim
// (tests/shim/fsync_shim.c, DH_SHIM_FAIL_FILE) makes every fsync fail with
// EIO while a file exists. lib/receiver.mjs stands in for the customer's
// receiver.
//
// (a) Results that cannot be stored: the receiver got the requests, but the
//     gateway could not record the 2xx. Nothing may be marked delivered
//     without it; once the store recovers and the leases end, the same
//     deliveries go out again with the same webhook-id and end delivered.
// (b) Claims that cannot be stored: a retry falls due while the store is
//     failing. Nothing is sent without a durable lease; after recovery the
//     retry goes out and succeeds.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { start, cleanup, tempDir, haveShim } from './lib/gateway.mjs';
import { startReceiver, ok, delayed, failThen, waitFor } from './lib/receiver.mjs';
import { postEvent, deliveryOf, waitState, getDelivery, deliveryConfig } from './lib/delivery.mjs';

const LOOP = ['127.0.0.0/8'];

describe('delivery while the store fails', () => {
  let rx;
  let g;
  let failFile;

  before(async () => {
    assert.ok(haveShim(), 'the fsync shim is built (make)');
    rx = await startReceiver();
    const dir = tempDir();
    failFile = `${dir}/fail-fsync`;
    g = await start(deliveryConfig({
      sources: ['s-res', 's-claim'],
      delivery: { lease_margin: '2s' },
      endpoints: [
        { name: 'res', url: rx.url('/res'), sources: ['s-res'], signing: 'none', timeout: '1s',
          allow_private: LOOP, retry: { schedule: ['0s', '100ms'], max_attempts: 5 } },
        { name: 'claim', url: rx.url('/claim'), sources: ['s-claim'], signing: 'none', timeout: '1s',
          allow_private: LOOP, retry: { schedule: ['0s', '1s'], max_attempts: 5 } },
      ],
    }), { dir, preload: true, env: { DH_SHIM_FAIL_FILE: failFile, DESKHOOK_ALLOW_PRIVATE: undefined } });
  });
  after(async () => {
    try { fs.unlinkSync(failFile); } catch { /* gone */ }
    await cleanup(g);
    await rx.close();
  });

  it('(a) a 2xx whose result cannot be stored is sent again after recovery, same webhook-id', async () => {
    rx.behave('/res', delayed(400));
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await postEvent(g, 's-res'));
    const ds = [];
    for (const id of ids) ds.push(await deliveryOf(g, id, 'res'));
    // The requests are out; the store fails before their answers come back.
    await rx.waitFor(() => rx.count('/res') >= 5, 5000, '5 requests');
    fs.writeFileSync(failFile, '');
    await rx.waitFor(() => rx.requests('/res').filter((r) => r.answered).length >= 5, 5000, '5 answers');
    await waitFor(() => g.rawLines.some((l) => l.includes('cannot record delivery results')), 5000,
      'the failed result write in the log');
    for (const d of ds) {
      const now = await getDelivery(g, d.id);
      assert.notEqual(now.state, 'delivered', 'not delivered without a stored 2xx');
    }
    fs.unlinkSync(failFile);
    rx.behave('/res', ok());
    for (const d of ds) await waitState(g, d.id, 'delivered', 10000);
    for (const [i, id] of ids.entries()) {
      const reqs = rx.forEvent(id, '/res');
      assert.ok(reqs.length >= 2, `event ${i} was sent again after the store recovered (${reqs.length})`);
      assert.ok(reqs.every((r) => r.webhookId === ds[i].id), 'the same webhook-id every time');
    }
  });

  it('(b) nothing is sent without a stored lease; the retry goes out after recovery', async () => {
    rx.behave('/claim', failThen(1, 503));
    const id = await postEvent(g, 's-claim');
    const d = await deliveryOf(g, id, 'claim');
    await waitState(g, d.id, 'retry_wait');
    // The retry falls due (1 s) while the store cannot write.
    fs.writeFileSync(failFile, '');
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(rx.forEvent(id, '/claim').length, 1, 'no attempt without a lease');
    fs.unlinkSync(failFile);
    await waitState(g, d.id, 'delivered', 10000);
    const reqs = rx.forEvent(id, '/claim');
    assert.equal(reqs.length, 2);
    assert.ok(g.rawLines.some((l) => l.includes('cannot claim deliveries')), 'the failure is logged');
  });
});
