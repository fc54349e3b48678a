// Batch bodies, multi-event payloads, per-source event maps and field
// overrides, keyed rate limits, shaped answers for existing callers, health
// paths, and the per-source counters of GET /api/stats.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { ADMIN_TOKEN, cleanup, errorOf, start } from './lib/gateway.mjs';

const CONFIG = `
listen: 127.0.0.1:0
admin: {listen: 127.0.0.1:0, token: "${ADMIN_TOKEN}"}
store: sqlite:unused.db
log: {level: warn, access: false}
sources:
  - name: ticketflow                       # seed 002's callers
    preset: generic
    paths: [/api/integrations/webhook]
    auth: none
    required: [ticket.subject]
    required_message: "Title or subject is required"
    response:
      status: 200
      body: {id: "{{id}}", title: "{{ticket.subject}}", priority: "{{ticket.priority}}", status: "{{status}}"}
    error_response:
      body: {detail: "{{error.message}}"}
    health:
      path: /api/integrations/webhook/health
      body: {status: healthy, endpoint: webhook, supported_platforms: [zendesk, freshdesk, jira, servicenow, custom], features: [flexible_field_mapping, batch_processing]}
  - name: autoresponder                    # seed 003: "event": "ticket.create"
    preset: generic
    auth: none
    event_map: {ticket.create: ticket.created}
    error_response:
      body: {error: "{{error.message}}"}
  - name: custom-fields
    preset: generic
    auth: none
    fields:
      ticket.subject: [headline, title]
      customer.email: contact.mail
      metadata.region: region
  - name: chat                             # seed 001: 100 requests a minute per platform
    preset: generic
    auth: none
    rate_limit: {rate: 2/60s, key: platform}
  - name: hubspot
    preset: hubspot
    auth: none
`;

describe('batch, shaping, limits and counters', () => {
  let g;
  before(async () => { g = await start(CONFIG); });
  after(async () => { await cleanup(g); });

  it('a batch stores good elements in one go and reports each bad one (seed 002)', async () => {
    const before = await g.count({ source: 'ticketflow' });
    const r = await g.post('/api/integrations/webhook/batch', [
      { title: 'Ticket 1', description: 'Description 1', priority: 'high', user_email: 'u1@example.com' },
      { description: 'no title here' },
      'not an object',
      { title: 'Ticket 1', description: 'Description 1', priority: 'high', user_email: 'u1@example.com' },
      { title: 'Ticket 2', description: 'Description 2', priority: 'medium', user_email: 'u2@example.com' },
    ]);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.created_count, 2);
    assert.equal(r.json.failed_count, 2);
    assert.equal(r.json.duplicate_count, 1);
    const [a, b, c, d, e] = r.json.results;
    assert.match(a.id, /^evt_/);
    assert.deepEqual(b, { index: 1, error: { code: 'missing_field', message: 'Title or subject is required' } });
    assert.equal(c.error.code, 'invalid_json');
    assert.equal(d.id, a.id, 'a repeat inside the batch answers with the first id');
    assert.equal(d.status, 'duplicate');
    assert.match(e.id, /^evt_/);
    assert.equal(await g.count({ source: 'ticketflow' }), before + 2);
    const stored = await g.admin(`/api/events/${e.id}`);
    assert.equal(stored.json.ticket.subject, 'Ticket 2');
    assert.equal(stored.json.customer.email, 'u2@example.com');
    assert.deepEqual(stored.json.raw, { title: 'Ticket 2', description: 'Description 2', priority: 'medium', user_email: 'u2@example.com' });
  });

  it('a batch whose every element fails is still 200 with the reasons, and stores nothing', async () => {
    const before = await g.count({ source: 'ticketflow' });
    const r = await g.post('/webhooks/ticketflow/batch', [{ x: 1 }, { y: 2 }]);
    assert.equal(r.status, 200);
    assert.equal(r.json.created_count, 0);
    assert.equal(r.json.failed_count, 2);
    assert.equal(await g.count({ source: 'ticketflow' }), before);
  });

  it('a batch body that is not a JSON array is a 400', async () => {
    const r = await g.post('/webhooks/ticketflow/batch', { title: 'single' });
    assert.equal(r.status, 400);
    assert.deepEqual(r.json, { detail: 'the body must be a JSON array of events' });
    const bad = await g.post('/webhooks/autoresponder/batch', '[{"a":');
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /invalid JSON at line 1/);
  });

  it('answers shaped by the source: the created ticket, and {"detail": …} errors', async () => {
    const r = await g.post('/api/integrations/webhook', {
      title: 'API integration failing', body: 'Our API calls return 500', priority: 'urgent', platform: 'freshdesk',
    });
    assert.equal(r.status, 200, r.text);
    assert.match(r.json.id, /^evt_/);
    assert.equal(r.headers['x-deskhook-event-id'], r.json.id);
    assert.deepEqual({ ...r.json, id: 'x' }, { id: 'x', title: 'API integration failing', priority: 'urgent', status: 'accepted' });
    const again = await g.post('/api/integrations/webhook', {
      title: 'API integration failing', body: 'Our API calls return 500', priority: 'urgent', platform: 'freshdesk',
    });
    assert.equal(again.json.status, 'duplicate');
    assert.equal(again.json.id, r.json.id);
    const missing = await g.post('/api/integrations/webhook', { body: 'no title' });
    assert.equal(missing.status, 400);
    assert.deepEqual(missing.json, { detail: 'Title or subject is required' });
  });

  it('a health path answers its fixed document (seed 002)', async () => {
    const r = await g.get('/api/integrations/webhook/health');
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'healthy');
    assert.deepEqual(r.json.supported_platforms, ['zendesk', 'freshdesk', 'jira', 'servicenow', 'custom']);
  });

  it('event_map renames the sender\'s event types (seed 003: ticket.create)', async () => {
    const r = await g.post('/webhooks/autoresponder', {
      event: 'ticket.create',
      data: { subject: 'Support Request', message: 'Customer message here', customer_email: 'customer@example.com', customer_name: 'John Doe', priority: 'medium', category: 'Technical' },
    });
    assert.equal(r.status, 200, r.text);
    const doc = (await g.admin(`/api/events/${r.json.id}`)).json;
    assert.equal(doc.type, 'ticket.created');
    assert.equal(doc.ticket.subject, 'Support Request');
    assert.equal(doc.ticket.body, 'Customer message here');
    assert.equal(doc.customer.email, 'customer@example.com');
    assert.equal(doc.customer.name, 'John Doe');
  });

  it('a source\'s own field paths override the preset\'s', async () => {
    const r = await g.post('/webhooks/custom-fields', { headline: 'Printer on fire', contact: { mail: 'ops@example.com' }, region: 'eu-west', subject: 'ignored' });
    assert.equal(r.status, 200, r.text);
    const doc = (await g.admin(`/api/events/${r.json.id}`)).json;
    assert.equal(doc.ticket.subject, 'Printer on fire');
    assert.equal(doc.customer.email, 'ops@example.com');
    assert.equal(doc.metadata.region, 'eu-west');
  });

  it('a rate limit per field value: one platform over its budget does not block another (seed 001)', async () => {
    const before = await g.count({ source: 'chat' });
    const send = (platform, n) => g.post('/webhooks/chat', { message: `hello ${n}`, platform });
    assert.equal((await send('slack', 1)).status, 200);
    assert.equal((await send('slack', 2)).status, 200);
    const over = await send('slack', 3);
    assert.equal(over.status, 429);
    assert.equal(errorOf(over).code, 'rate_limited');
    assert.ok(Number(over.headers['retry-after']) >= 1, 'Retry-After is set');
    assert.equal((await send('teams', 1)).status, 200, 'another platform has its own bucket');
    assert.equal(await g.count({ source: 'chat' }), before + 3, 'the refused request stored nothing');
  });

  it('a platform that sends several events in one request gets one stored event each (HubSpot)', async () => {
    const events = [
      { eventId: 9001, subscriptionId: 1, portalId: 62515, occurredAt: 1700000000000, subscriptionType: 'ticket.creation', attemptNumber: 0, objectId: 4242, changeSource: 'CRM' },
      { eventId: 9002, subscriptionId: 2, portalId: 62515, occurredAt: 1700000000100, subscriptionType: 'ticket.propertyChange', attemptNumber: 0, objectId: 4242, propertyName: 'subject', propertyValue: 'Refund' },
    ];
    const r = await g.post('/webhooks/hubspot', events);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'accepted');
    assert.equal(r.json.ids.length, 2);
    const types = await Promise.all(r.json.ids.map(async (id) => (await g.admin(`/api/events/${id}`)).json.type));
    assert.deepEqual(types, ['ticket.created', 'ticket.updated']);
    // HubSpot retries with a higher attemptNumber: the eventId makes it a repeat.
    const retry = await g.post('/webhooks/hubspot', [{ ...events[0], attemptNumber: 1 }]);
    assert.deepEqual(retry.json.ids, [r.json.ids[0]]);
  });

  it('GET /api/stats counts each source\'s outcomes, refusals by code', async () => {
    const r = await g.admin('/api/stats');
    assert.equal(r.status, 200);
    const chat = r.json.sources.chat;
    assert.ok(chat.accepted >= 3, JSON.stringify(chat));
    assert.ok(chat.rejected.rate_limited >= 1, JSON.stringify(chat));
    const tf = r.json.sources.ticketflow;
    assert.ok(tf.duplicate >= 2, JSON.stringify(tf));
    assert.ok(tf.rejected.missing_field >= 3, JSON.stringify(tf));
    // Group commit: every stored request went through a transaction, and
    // some transactions carried several.
    assert.ok(r.json.commits.transactions >= 1, JSON.stringify(r.json.commits));
    assert.ok(r.json.commits.items >= r.json.commits.transactions, JSON.stringify(r.json.commits));
    assert.equal((await g.admin('/api/stats', { token: 'wrong' })).status, 401);
  });
});
