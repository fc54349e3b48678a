// Every inbound error code, its status and headers, that nothing is stored
// for a refused request, and the order in which the checks run.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  start, cleanup, standardConfig, fdBody, nonce, errorOf, FD_SECRET, CUSTOM_TOKEN,
  sign, tempDir,
} from './lib/gateway.mjs';

const LIMITED = `  - name: limited
    preset: generic
    auth:
      hmac: {header: X-Webhook-Signature, algorithm: sha256, encoding: hex, secrets: ["\${FD_SECRET}"]}
    rate_limit: 2/60s
`;

function expectError(r, status, code, what = '') {
  const where = `${what} -> ${r.status} ${r.text.slice(0, 300)}`;
  assert.equal(r.status, status, `status ${where}`);
  assert.match(String(r.headers['content-type'] || ''), /^application\/json/i, `content-type ${where}`);
  const e = errorOf(r);
  assert.ok(e, `error object ${where}`);
  if (Array.isArray(code)) assert.ok(code.includes(e.code), `error.code one of ${code} ${where}`);
  else assert.equal(e.code, code, `error.code ${where}`);
  assert.equal(typeof e.message, 'string', `error.message ${where}`);
  assert.ok(e.message.length > 0, `error.message not empty ${where}`);
  return e;
}

function retryAfter(r) {
  const v = r.headers['retry-after'];
  assert.ok(v !== undefined, `Retry-After header present (${r.status} ${r.text})`);
  assert.match(v, /^\d+$/, 'Retry-After is delay-seconds');
  return Number(v);
}

describe('inbound errors', () => {
  let g;
  before(async () => {
    g = await start(standardConfig({
      freshdesk: { max_body: '4KiB', required: ['ticket.subject'] },
      extraSources: LIMITED,
    }));
  });
  after(() => cleanup(g));

  // Runs fn and asserts the number of stored events did not change.
  async function storesNothing(fn) {
    const before = await g.count();
    await fn();
    const afterCount = await g.count();
    assert.equal(afterCount, before, 'a refused request must store nothing');
  }

  it('404 unknown_source', () => storesNothing(async () => {
    const body = JSON.stringify({ title: 'x', n: nonce() });
    expectError(await g.post('/webhooks/nosuch', body), 404, 'unknown_source', 'POST /webhooks/nosuch');
    expectError(await g.post('/webhooks/nosuch/ticket.created', body), 404, 'unknown_source',
      'POST /webhooks/nosuch/ticket.created');
  }));

  it('405 method_not_allowed on webhook paths, with Allow', () => storesNothing(async () => {
    for (const p of ['/webhooks/freshdesk', '/webhook/freshdesk', '/webhooks/testing/ticket.created']) {
      const r = await g.get(p);
      expectError(r, 405, 'method_not_allowed', `GET ${p}`);
      assert.match(String(r.headers.allow || ''), /POST/, `GET ${p}: 405 must carry Allow: POST`);
    }
    const r = await g.post('/webhooks/testing', JSON.stringify({ title: 'put' }), { method: 'PUT' });
    expectError(r, 405, 'method_not_allowed', 'PUT /webhooks/testing');
  }));

  it('413 payload_too_large (Content-Length and chunked)', () => storesNothing(async () => {
    const big = fdBody(9001, { ticket_description: 'x'.repeat(5000) });
    assert.ok(big.length > 4096);
    expectError(await g.post('/webhooks/freshdesk', big, { secret: FD_SECRET }), 413, 'payload_too_large',
      'signed oversize body');
    expectError(await g.post('/webhooks/freshdesk', big, { secret: FD_SECRET, chunked: 1024 }), 413,
      'payload_too_large', 'signed oversize chunked body');
  }));

  it('415 unsupported_media_type', () => storesNothing(async () => {
    const body = fdBody(9002);
    expectError(await g.post('/webhooks/freshdesk', body, { secret: FD_SECRET, contentType: 'text/plain' }),
      415, 'unsupported_media_type', 'text/plain');
    expectError(await g.post('/webhooks/testing', body, { contentType: 'application/x-www-form-urlencoded' }),
      415, 'unsupported_media_type', 'form-urlencoded');
  }));

  it('401 missing_signature / invalid_signature', () => storesNothing(async () => {
    const body = fdBody(9003);
    expectError(await g.post('/webhooks/freshdesk', body), 401, 'missing_signature', 'no signature');
    expectError(await g.post('/webhooks/freshdesk', body, { secret: 'not-the-secret' }), 401,
      'invalid_signature', 'signed with another secret');
    expectError(await g.post('/webhooks/freshdesk', body, { secret: 'not-the-secret', prefix: 'sha256=' }), 401,
      'invalid_signature', 'sha256= prefix, wrong secret');
    expectError(await g.post('/webhooks/freshdesk', body, { signature: 'zz-not-hex' }), 401,
      'invalid_signature', 'garbage signature');
    // A valid signature of a different body.
    expectError(await g.post('/webhooks/freshdesk', body, { signature: sign(fdBody(9004)) }),
      401, 'invalid_signature', 'signature of another body');
    expectError(await g.post('/webhook/freshdesk', body, { secret: 'nope' }), 401, 'invalid_signature',
      'extra mount, wrong secret');
  }));

  it('401 invalid_token', () => storesNothing(async () => {
    const body = JSON.stringify({ title: 'token test', n: nonce() });
    expectError(await g.post('/webhooks/custom', body, { token: 'wrong-token' }), 401, 'invalid_token', 'wrong token');
    expectError(await g.post('/webhooks/custom', body, { token: CUSTOM_TOKEN + 'x' }), 401, 'invalid_token',
      'token with a suffix');
    expectError(await g.post('/webhooks/custom', body), 401, ['invalid_token', 'missing_token'], 'no Authorization');
    expectError(await g.post('/webhooks/custom', body, { headers: { Authorization: `Basic ${CUSTOM_TOKEN}` } }),
      401, ['invalid_token', 'missing_token'], 'Basic instead of Bearer');
  }));

  it('400 invalid_json says where', () => storesNothing(async () => {
    const broken = '{\n  "title": "broken",\n  "body": tru\n}\n';
    let e = expectError(await g.post('/webhooks/testing', broken), 400, 'invalid_json', 'broken JSON');
    assert.match(e.message, /line\D{0,3}3\b/i, `message names line 3: ${e.message}`);
    assert.match(e.message, /col(umn)?\D{0,3}\d+/i, `message names a column: ${e.message}`);
    const truncated = fdBody(9005).slice(0, -3);
    e = expectError(await g.post('/webhooks/freshdesk', truncated, { secret: FD_SECRET }), 400, 'invalid_json',
      'signed truncated JSON');
    assert.match(e.message, /line\D{0,3}1\b/i, `message names line 1: ${e.message}`);
    expectError(await g.post('/webhooks/testing', ''), 400, 'invalid_json', 'empty body');
  }));

  it('400 missing_field names the field', () => storesNothing(async () => {
    const noId = JSON.stringify({ freshdesk_webhook: { ticket_subject: 'no id here' } });
    let e = expectError(await g.post('/webhooks/freshdesk', noId, { secret: FD_SECRET }), 400, 'missing_field',
      'freshdesk without ticket_id');
    assert.match(e.message, /ticket\.id/, `message names ticket.id: ${e.message}`);
    const noSubject = JSON.stringify({ freshdesk_webhook: { ticket_id: 9006 } });
    e = expectError(await g.post('/webhooks/freshdesk', noSubject, { secret: FD_SECRET }), 400, 'missing_field',
      'freshdesk without subject (required: [ticket.subject])');
    assert.match(e.message, /ticket\.subject/, `message names ticket.subject: ${e.message}`);
  }));

  it('check order: size, then content type, then authentication, then JSON', () => storesNothing(async () => {
    const big = fdBody(9007, { ticket_description: 'y'.repeat(5000) });
    expectError(await g.post('/webhooks/freshdesk', big, { secret: 'bad' }), 413, 'payload_too_large',
      'oversize + bad signature');
    expectError(await g.post('/webhooks/freshdesk', big), 413, 'payload_too_large', 'oversize + no signature');
    expectError(await g.post('/webhooks/freshdesk', big, { contentType: 'text/plain' }), 413, 'payload_too_large',
      'oversize + text/plain');
    const small = fdBody(9008);
    expectError(await g.post('/webhooks/freshdesk', small, { secret: 'bad', contentType: 'text/plain' }), 415,
      'unsupported_media_type', 'text/plain + bad signature');
    expectError(await g.post('/webhooks/freshdesk', '{"not json', { secret: 'bad' }), 401, 'invalid_signature',
      'bad signature + bad JSON');
    expectError(await g.post('/webhooks/custom', '{"not json'), 401, ['invalid_token', 'missing_token'],
      'no token + bad JSON');
    const noId = JSON.stringify({ freshdesk_webhook: { ticket_subject: 'x' } });
    expectError(await g.post('/webhooks/freshdesk', noId, { secret: 'bad' }), 401, 'invalid_signature',
      'bad signature + missing field');
  }));

  it('429 rate_limited with Retry-After; a bad-signature flood does not use up the limit', async () => {
    const before = (await g.listAll({ source: 'limited' })).length;
    assert.equal(before, 0);
    for (let i = 0; i < 10; i++) {
      const body = JSON.stringify({ title: `flood ${i}`, n: nonce() });
      expectError(await g.post('/webhooks/limited', body, { secret: 'wrong' }), 401, 'invalid_signature',
        `flood request ${i}`);
    }
    const ids = [];
    for (let i = 0; i < 2; i++) {
      const body = JSON.stringify({ title: `good ${i}`, n: nonce() });
      const r = await g.post('/webhooks/limited', body, { secret: FD_SECRET });
      assert.equal(r.status, 200, `good request ${i} after the flood: ${r.status} ${r.text}`);
      assert.equal(r.json.status, 'accepted');
      ids.push(r.json.id);
    }
    const third = await g.post('/webhooks/limited', JSON.stringify({ title: 'third', n: nonce() }),
      { secret: FD_SECRET });
    expectError(third, 429, 'rate_limited', 'third good request');
    const ra = retryAfter(third);
    assert.ok(ra >= 1 && ra <= 60, `Retry-After ${ra} within the 60s window`);
    // Rate limit runs before JSON parsing.
    expectError(await g.post('/webhooks/limited', '{"broken', { secret: FD_SECRET }), 429, 'rate_limited',
      'invalid JSON while limited');
    // Bad signatures are still 401 (authentication before rate limit).
    expectError(await g.post('/webhooks/limited', JSON.stringify({ t: 1 }), { secret: 'wrong' }), 401,
      'invalid_signature', 'bad signature while limited');
    // The limit is per source.
    const other = await g.post('/webhooks/testing', JSON.stringify({ title: 'other source', n: nonce() }));
    assert.equal(other.status, 200, `another source is not limited: ${other.text}`);
    const stored = await g.listAll({ source: 'limited' });
    assert.deepEqual(stored.map((e) => e.id).sort(), ids.sort(), 'only the two accepted requests are stored');
  });
});

describe('503 store_unavailable', () => {
  let g;
  let failFile;
  after(async () => {
    if (failFile) fs.rmSync(failFile, { force: true });
    await cleanup(g);
  });

  it('POST gets 503 with Retry-After while the store cannot fsync, and nothing is stored', async () => {
    const dir = tempDir();
    failFile = `${dir}/fail-fsync`;
    g = await start(standardConfig(), { dir, preload: true, env: { DH_SHIM_FAIL_FILE: failFile } });
    const ok = await g.post('/webhooks/testing', JSON.stringify({ title: 'before', n: nonce() }));
    assert.equal(ok.status, 200, ok.text);
    const before = await g.count();
    fs.writeFileSync(failFile, '');
    const body = JSON.stringify({ title: 'during outage', n: nonce() });
    const r = await g.post('/webhooks/testing', body);
    expectError(r, 503, 'store_unavailable', 'POST while fsync fails');
    assert.ok(retryAfter(r) >= 1);
    fs.rmSync(failFile);
    assert.equal(await g.count(), before, 'the failed request is not stored');
  });
});
