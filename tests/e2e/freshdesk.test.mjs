// The Freshdesk seed payload end to end, the normalized ticket model for the
// freshdesk and generic presets, dedupe, and the admin API's listing.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  start, cleanup, standardConfig, fdBody, nonce, errorOf, FD_SECRET, CUSTOM_TOKEN,
  SEED_PAYLOAD, SEED_PAYLOAD_TEXT,
} from './lib/gateway.mjs';

const ISO_Z = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

function accepted(r, what = '') {
  assert.equal(r.status, 200, `${what}: ${r.status} ${r.text}`);
  assert.ok(r.json, `${what}: JSON body`);
  assert.equal(r.json.status, 'accepted', `${what}: ${r.text}`);
  assert.match(r.json.id, /^evt_/, `${what}: id`);
  assert.equal(r.headers['x-deskhook-event-id'], r.json.id, `${what}: X-Deskhook-Event-Id`);
  return r.json.id;
}

async function getEvent(g, id) {
  const r = await g.admin(`/api/events/${encodeURIComponent(id)}`);
  assert.equal(r.status, 200, `GET /api/events/${id}: ${r.status} ${r.text}`);
  return r.json;
}

const squash = (s) => String(s).replace(/\s+/g, ' ').trim();

describe('freshdesk preset', () => {
  let g;
  before(async () => { g = await start(standardConfig()); });
  after(() => cleanup(g));

  it('seed 000 payload through the extra mount: every normalized field', async () => {
    const t0 = Date.now();
    const r = await g.post('/webhook/freshdesk', SEED_PAYLOAD_TEXT, {
      secret: FD_SECRET, contentType: 'application/json; charset=utf-8',
    });
    const t1 = Date.now();
    const id = accepted(r, 'seed payload');
    const ev = await getEvent(g, id);
    assert.equal(ev.id, id);
    assert.equal(ev.source, 'freshdesk');
    assert.equal(ev.provider, 'freshdesk');
    assert.equal(ev.platform, 'freshdesk');
    assert.equal(ev.type, 'ticket.created', 'type falls back to default_event');
    assert.match(ev.received_at, ISO_Z);
    const at = Date.parse(ev.received_at);
    assert.ok(at >= t0 - 2000 && at <= t1 + 2000, `received_at ${ev.received_at} is now`);
    assert.equal(typeof ev.dedupe_key, 'string');
    assert.ok(ev.dedupe_key.length > 0, 'dedupe_key');
    assert.equal(ev.ticket.id, '1228307', 'ticket.id is a string');
    assert.equal(ev.ticket.subject, 'ParkWhiz refund request from the online form');
    assert.equal(ev.ticket.body, 'ParkWhiz refund request received.');
    assert.equal(ev.ticket.body_html, '<div>ParkWhiz refund request received.</div>');
    assert.equal(ev.ticket.status, 'open');
    assert.equal(ev.ticket.priority, 'low');
    assert.equal(ev.ticket.url, 'https://parkonectcare.freshdesk.com/helpdesk/tickets/1228307');
    assert.equal(ev.customer.name, 'Adam Volin');
    assert.equal(ev.customer.email, 'ajvolin@gmail.com');
    assert.deepEqual(ev.raw, SEED_PAYLOAD, 'raw is the payload as JSON');

    // The listing carries the same normalized document.
    const list = await g.admin('/api/events?source=freshdesk&limit=50');
    assert.equal(list.status, 200, list.text);
    const item = list.json.items.find((e) => e.id === id);
    assert.ok(item, 'event is listed');
    assert.deepEqual(item.ticket, ev.ticket);
    assert.deepEqual(item.customer, ev.customer);
    assert.equal(item.type, ev.type);
    assert.equal(item.received_at, ev.received_at);

    // The raw endpoint returns the bytes exactly as received.
    const raw = await g.admin(`/api/events/${id}/raw`);
    assert.equal(raw.status, 200, raw.text);
    assert.ok(raw.body.equals(Buffer.from(SEED_PAYLOAD_TEXT)), 'raw bytes identical');
    assert.equal(raw.headers['content-type'], 'application/json; charset=utf-8', 'original Content-Type');
  });

  it('signature with the sha256= prefix, on both mounts', async () => {
    accepted(await g.post('/webhook/freshdesk', fdBody(1228308), { secret: FD_SECRET, prefix: 'sha256=' }),
      'extra mount, sha256= prefix');
    accepted(await g.post('/webhooks/freshdesk', fdBody(1228309), { secret: FD_SECRET, prefix: 'sha256=' }),
      '/webhooks/freshdesk, sha256= prefix');
    accepted(await g.post('/webhooks/freshdesk', fdBody(1228310), { secret: FD_SECRET }),
      '/webhooks/freshdesk, bare hex');
  });

  it('the path segment sets the event type', async () => {
    const id = accepted(await g.post('/webhooks/freshdesk/ticket.updated', fdBody(2001), { secret: FD_SECRET }),
      'ticket.updated');
    assert.equal((await getEvent(g, id)).type, 'ticket.updated');
    const id2 = accepted(await g.post('/webhooks/freshdesk/note.added', fdBody(2002), { secret: FD_SECRET }),
      'note.added');
    assert.equal((await getEvent(g, id2)).type, 'note.added');
  });

  it('priority 1..4 and words map to low|medium|high|urgent', async () => {
    const cases = [
      [1, 'low'], [2, 'medium'], [3, 'high'], [4, 'urgent'],
      ['Low', 'low'], ['Medium', 'medium'], ['High', 'high'], ['Urgent', 'urgent'],
    ];
    let n = 3000;
    for (const [given, want] of cases) {
      const id = accepted(await g.post('/webhooks/freshdesk', fdBody(n++, { ticket_priority: given }),
        { secret: FD_SECRET }), `priority ${given}`);
      assert.equal((await getEvent(g, id)).ticket.priority, want, `priority ${JSON.stringify(given)}`);
    }
  });

  it('an unwrapped payload works the same', async () => {
    const body = JSON.stringify({
      ticket_id: 555,
      ticket_subject: 'Unwrapped',
      ticket_description: '<p>Hello <b>world</b></p>',
      ticket_status: 'Pending',
      ticket_priority: 'High',
      ticket_contact_name: 'Una Wrapped',
      ticket_contact_email: 'una@example.com',
    });
    const id = accepted(await g.post('/webhooks/freshdesk', body, { secret: FD_SECRET }), 'unwrapped');
    const ev = await getEvent(g, id);
    assert.equal(ev.ticket.id, '555');
    assert.equal(ev.ticket.subject, 'Unwrapped');
    assert.equal(squash(ev.ticket.body), 'Hello world');
    assert.equal(ev.ticket.body_html, '<p>Hello <b>world</b></p>');
    assert.equal(ev.ticket.status, 'pending');
    assert.equal(ev.ticket.priority, 'high');
    assert.equal(ev.customer.name, 'Una Wrapped');
    assert.equal(ev.customer.email, 'una@example.com');
    assert.equal(ev.provider, 'freshdesk');
  });
});

describe('generic preset (seed 002 bodies) with a bearer token', () => {
  let g;
  before(async () => { g = await start(standardConfig()); });
  after(() => cleanup(g));

  const postCustom = (body, p = '/webhooks/custom') => g.post(p, body, { token: CUSTOM_TOKEN });

  it('zendesk-style body', async () => {
    const id = accepted(await postCustom({
      subject: 'Password reset not working',
      description: "I've tried resetting my password multiple times but never receive the email.",
      priority: 'high',
      customer_email: 'user@example.com',
      platform: 'zendesk',
    }), 'zendesk');
    const ev = await getEvent(g, id);
    assert.equal(ev.source, 'custom');
    assert.equal(ev.ticket.subject, 'Password reset not working');
    assert.equal(ev.ticket.body, "I've tried resetting my password multiple times but never receive the email.");
    assert.equal(ev.ticket.priority, 'high');
    assert.equal(ev.ticket.category, 'general', 'category defaults to general');
    assert.equal(ev.ticket.channel, 'web', 'channel defaults to web');
    assert.equal(ev.customer.email, 'user@example.com');
    assert.equal(ev.platform, 'zendesk');
  });

  it('freshdesk-style title/body/user_email', async () => {
    const id = accepted(await postCustom({
      title: 'API integration failing',
      body: 'Our API calls are returning 500 errors since this morning.',
      category: 'technical',
      priority: 'urgent',
      user_email: 'dev@company.com',
      platform: 'freshdesk',
    }), 'freshdesk-style');
    const ev = await getEvent(g, id);
    assert.equal(ev.ticket.subject, 'API integration failing');
    assert.equal(ev.ticket.body, 'Our API calls are returning 500 errors since this morning.');
    assert.equal(ev.ticket.category, 'technical');
    assert.equal(ev.ticket.priority, 'urgent');
    assert.equal(ev.customer.email, 'dev@company.com');
    assert.equal(ev.platform, 'freshdesk');
  });

  it('jira-style user_id becomes customer.id', async () => {
    const id = accepted(await postCustom({
      title: 'Feature request: Dark mode',
      description: 'Users are requesting a dark mode option for the dashboard.',
      category: 'feature_request',
      priority: 'medium',
      user_id: 'jira-12345',
      platform: 'jira',
    }), 'jira');
    const ev = await getEvent(g, id);
    assert.equal(ev.ticket.subject, 'Feature request: Dark mode');
    assert.equal(ev.ticket.category, 'feature_request');
    assert.equal(ev.ticket.priority, 'medium');
    assert.equal(ev.customer.id, 'jira-12345');
    assert.equal(ev.platform, 'jira');
  });

  it('custom platform: id, metadata', async () => {
    const metadata = {
      source_url: 'https://custom-system.com/ticket/789',
      department: 'finance',
      custom_field: 'value',
    };
    const id = accepted(await postCustom({
      title: 'Billing inquiry',
      description: 'Question about monthly subscription charges',
      category: 'billing',
      priority: 'low',
      customer_email: 'billing@customer.com',
      id: 'ext-789',
      platform: 'custom_system',
      metadata,
    }), 'custom');
    const ev = await getEvent(g, id);
    assert.equal(ev.id, id, 'the payload id does not replace the event id');
    assert.equal(ev.ticket.id, 'ext-789');
    assert.equal(ev.ticket.subject, 'Billing inquiry');
    assert.equal(ev.ticket.category, 'billing');
    assert.equal(ev.customer.email, 'billing@customer.com');
    assert.equal(ev.platform, 'custom_system');
    assert.deepEqual(ev.metadata, metadata);
  });

  it('alternate field names, numbers become strings, defaults', async () => {
    const id = accepted(await postCustom({
      title: 'Alt names',
      content: 'from content',
      case_id: 4711,
      contact_id: 99,
      email: 'alt@example.com',
      channel: 'email',
    }, '/webhooks/custom/ticket.escalated'), 'alternates');
    const ev = await getEvent(g, id);
    assert.equal(ev.type, 'ticket.escalated');
    assert.equal(ev.ticket.subject, 'Alt names');
    assert.equal(ev.ticket.body, 'from content');
    assert.equal(ev.ticket.id, '4711');
    assert.equal(ev.customer.id, '99');
    assert.equal(ev.customer.email, 'alt@example.com');
    assert.equal(ev.ticket.channel, 'email');
    assert.equal(ev.ticket.category, 'general');
    assert.equal(ev.platform, 'generic', 'platform defaults to generic');

    const id2 = accepted(await postCustom({
      subject: 'More alt names', message: 'from message', ticket_id: 12, requester_id: 7, user_email: 'u@example.com',
    }), 'alternates 2');
    const ev2 = await getEvent(g, id2);
    assert.equal(ev2.ticket.body, 'from message');
    assert.equal(ev2.ticket.id, '12');
    assert.equal(ev2.customer.id, '7');
    assert.equal(ev2.customer.email, 'u@example.com');

    const id3 = accepted(await postCustom({ title: 'Third', description: 'd', customer_id: 31 }), 'alternates 3');
    assert.equal((await getEvent(g, id3)).customer.id, '31');
  });
});

describe('dedupe', () => {
  let g;
  before(async () => {
    g = await start(standardConfig({
      extraSources: `  - name: shortwindow
    auth: none
    dedupe_window: 1s
`,
    }));
  });
  after(() => cleanup(g));

  it('a repeat within the window is a duplicate with the first id, and nothing new is stored', async () => {
    const body = fdBody(7001, { n: nonce() });
    const id = accepted(await g.post('/webhooks/freshdesk', body, { secret: FD_SECRET }), 'first');
    const before = await g.count();
    const repeats = [
      ['/webhooks/freshdesk', 'same path'],
      ['/webhook/freshdesk', 'extra mount'],
      ['/webhooks/freshdesk/ticket.updated', 'with an event type'],
    ];
    for (const [p, what] of repeats) {
      const r = await g.post(p, body, { secret: FD_SECRET });
      assert.equal(r.status, 200, `${what}: ${r.status} ${r.text}`);
      assert.deepEqual(r.json, { id, status: 'duplicate' }, what);
      const hdr = r.headers['x-deskhook-event-id'];
      if (hdr !== undefined) assert.equal(hdr, id, `${what}: X-Deskhook-Event-Id`);
    }
    assert.equal(await g.count(), before, 'duplicates store nothing');
  });

  it('the same body on another source is not a duplicate', async () => {
    const body = fdBody(7002, { n: nonce() });
    const id = accepted(await g.post('/webhooks/freshdesk', body, { secret: FD_SECRET }), 'freshdesk');
    const id2 = accepted(await g.post('/webhooks/testing', body), 'testing');
    assert.notEqual(id2, id);
    const r = await g.post('/webhooks/testing', body);
    assert.deepEqual(r.json, { id: id2, status: 'duplicate' }, 'repeat on testing');
  });

  it('after the window the same body is accepted again', async () => {
    const body = JSON.stringify({ title: 'window', n: nonce() });
    const id = accepted(await g.post('/webhooks/shortwindow', body), 'first');
    const dup = await g.post('/webhooks/shortwindow', body);
    assert.deepEqual(dup.json, { id, status: 'duplicate' });
    await new Promise((r) => setTimeout(r, 1600));
    const again = accepted(await g.post('/webhooks/shortwindow', body), 'after the window');
    assert.notEqual(again, id);
  });
});

describe('admin API listing', () => {
  let g;
  before(async () => { g = await start(standardConfig()); });
  after(() => cleanup(g));

  it('pages through events newest first and filters by source and type', async () => {
    const testing = [];
    const paths = ['/webhooks/testing', '/webhooks/testing/ticket.updated', '/webhooks/testing',
      '/webhooks/testing/ticket.updated', '/webhooks/testing'];
    const all = [];
    for (let i = 0; i < 5; i++) {
      const id = accepted(await g.post(paths[i], { title: `page ${i}`, n: nonce() }), `testing ${i}`);
      testing.push(id);
      all.push(id);
    }
    for (let i = 0; i < 2; i++) {
      all.push(accepted(await g.post('/webhooks/freshdesk', fdBody(8000 + i), { secret: FD_SECRET }), `fd ${i}`));
    }

    // source=testing, limit=2: pages of 2, 2, 1.
    const seen = [];
    const sizes = [];
    let cursor = null;
    for (let page = 0; page < 10; page++) {
      const q = new URLSearchParams({ source: 'testing', limit: '2' });
      if (cursor) q.set('cursor', cursor);
      const r = await g.admin(`/api/events?${q}`);
      assert.equal(r.status, 200, r.text);
      assert.ok(Array.isArray(r.json.items));
      assert.ok('next_cursor' in r.json, 'next_cursor is always present');
      sizes.push(r.json.items.length);
      for (const e of r.json.items) {
        assert.equal(e.source, 'testing');
        assert.match(e.received_at, ISO_Z);
        seen.push(e.id);
      }
      cursor = r.json.next_cursor;
      if (cursor === null) break;
      assert.equal(typeof cursor, 'string');
    }
    assert.equal(cursor, null, 'the last page has next_cursor null');
    assert.deepEqual(sizes.slice(0, 3), [2, 2, 1]);
    assert.deepEqual(seen, [...testing].reverse(), 'newest first, no repeats, nothing missing');

    // Everything, in one go and paged.
    const everything = await g.listAll({}, 3);
    assert.deepEqual(everything.map((e) => e.id), [...all].reverse());

    // Type filter, alone and with source.
    const updated = await g.listAll({ type: 'ticket.updated' }, 1);
    assert.deepEqual(updated.map((e) => e.id), [testing[3], testing[1]]);
    const both = await g.listAll({ source: 'testing', type: 'ticket.updated' });
    assert.deepEqual(both.map((e) => e.id), [testing[3], testing[1]]);
    const fd = await g.listAll({ source: 'freshdesk', type: 'ticket.created' });
    assert.deepEqual(fd.map((e) => e.id), [all[6], all[5]]);
    assert.deepEqual(await g.listAll({ source: 'nosuch' }), []);
  });

  it('requires the admin token', async () => {
    for (const token of [null, 'wrong-token']) {
      for (const p of ['/api/events', '/api/events/evt_x', '/api/events/evt_x/raw']) {
        const r = await g.admin(p, { token });
        assert.equal(r.status, 401, `${p} with token ${token}: ${r.status} ${r.text}`);
        assert.equal(errorOf(r)?.code, 'unauthorized', `${p}: ${r.text}`);
      }
    }
  });

  it('404 not_found for unknown ids', async () => {
    for (const p of ['/api/events/evt_doesnotexist', '/api/events/evt_doesnotexist/raw']) {
      const r = await g.admin(p);
      assert.equal(r.status, 404, `${p}: ${r.status} ${r.text}`);
      assert.equal(errorOf(r)?.code, 'not_found', r.text);
    }
  });

  it('GET /health on the public listener', async () => {
    const r = await g.get('/health');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json?.status, 'ok');
  });
});
