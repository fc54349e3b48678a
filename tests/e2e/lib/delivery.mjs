// Helpers for the outbound delivery tests: admin API calls with any method,
// posting events to a generic source, following deliveries, and writing
// endpoint definitions into a config file.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request, run, nonce, ADMIN_TOKEN } from './gateway.mjs';
import { waitFor } from './receiver.mjs';

export const ISO_Z = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
export const MASK = '********';

export const whsec = () => `whsec_${randomBytes(32).toString('base64')}`;
export const hexSecret = () => randomBytes(24).toString('hex');

// The version `deskhook version` prints ("deskhook 0.1.0" -> "0.1.0").
export function gatewayVersion() {
  const r = run(['version']);
  const m = /deskhook\s+v?(\S+)/.exec(r.stdout + r.stderr);
  if (!m) throw new Error(`cannot read the version from: ${r.stdout}${r.stderr}`);
  return m[1];
}

// An admin API call. body: an object (sent as JSON), a string, or undefined.
export function api(g, method, path, body, o = {}) {
  const headers = { ...(o.headers || {}) };
  const token = o.token === undefined ? ADMIN_TOKEN : o.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  let buf;
  if (body !== undefined) {
    buf = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    headers['Content-Type'] = 'application/json';
  }
  return request(g.adminUrl + path, { method, headers, body: buf, agent: g.agent, timeout: o.timeout || 10000 });
}

// An admin call that must answer `status`; resolves with the parsed JSON.
export async function apiOk(g, method, path, body, status = 200) {
  const r = await api(g, method, path, body);
  assert.equal(r.status, status, `${method} ${path}: ${r.status} ${r.text.slice(0, 500)}`);
  return r.json;
}

// A unique event body for the generic preset.
export function eventBody(type, extra = {}) {
  const n = nonce();
  return {
    event: type,
    ticket_id: `t-${n}`,
    subject: `Subject ${n}`,
    description: `Body of ticket ${n}`,
    customer_email: `c-${n}@example.com`,
    n,
    ...extra,
  };
}

// POSTs an event to /webhooks/<source> and returns its id (evt_…). The
// gateway must accept it (200 or 202 with status "accepted").
export async function postEvent(g, source, type = 'ticket.created', extra = {}) {
  const body = eventBody(type, extra);
  const r = await g.post(`/webhooks/${source}`, body, { timeout: 10000 });
  assert.ok(r.status === 200 || r.status === 202, `POST /webhooks/${source}: ${r.status} ${r.text}`);
  assert.equal(r.json?.status, 'accepted', `POST /webhooks/${source}: ${r.text}`);
  assert.match(r.json.id, /^evt_/, `event id: ${r.text}`);
  return r.json.id;
}

// Every delivery the admin API lists for a query, following next_cursor.
export async function listDeliveries(g, query = {}, pageLimit = 100) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < 10000; page++) {
    const q = new URLSearchParams({ ...query, limit: String(query.limit || pageLimit) });
    if (cursor) q.set('cursor', cursor);
    const r = await api(g, 'GET', `/api/deliveries?${q}`);
    if (r.status !== 200 || !r.json || !Array.isArray(r.json.items)) {
      throw new Error(`GET /api/deliveries?${q} -> ${r.status} ${r.text.slice(0, 300)}`);
    }
    items.push(...r.json.items);
    cursor = r.json.next_cursor;
    if (cursor === null || cursor === undefined || r.json.items.length === 0) return items;
  }
  throw new Error('listDeliveries: too many pages');
}

export async function getDelivery(g, id) {
  return apiOk(g, 'GET', `/api/deliveries/${encodeURIComponent(id)}`);
}

export async function getEndpoint(g, name) {
  return apiOk(g, 'GET', `/api/endpoints/${encodeURIComponent(name)}`);
}

// The delivery endpoint field names an endpoint by name (config endpoints:
// also their id); API endpoints may be listed under either.
export const isEndpoint = (value, ep) => value === ep || value === ep?.name || value === ep?.id;

// The deliveries of one event (to one endpoint when given).
export async function deliveriesOfEvent(g, eventId, endpoint) {
  const items = await listDeliveries(g, { event: eventId });
  for (const d of items) assert.equal(d.event_id, eventId, `?event= filter: ${JSON.stringify(d)}`);
  return endpoint === undefined ? items : items.filter((d) => isEndpoint(d.endpoint, endpoint));
}

// The one delivery of an event to an endpoint.
export async function deliveryOf(g, eventId, endpoint) {
  const l = await deliveriesOfEvent(g, eventId, endpoint);
  assert.equal(l.length, 1, `one delivery of ${eventId} to ${endpoint?.name ?? endpoint}: ${JSON.stringify(l)}`);
  assert.match(l[0].id, /^msg_/, 'delivery id');
  return l[0];
}

// Polls GET /api/deliveries/{id} until pred(delivery) holds; resolves with it.
export async function waitDelivery(g, id, pred, timeoutMs = 5000, what = 'a condition') {
  let last;
  return waitFor(async () => {
    last = await getDelivery(g, id);
    return pred(last) ? last : null;
  }, timeoutMs, () => `delivery ${id} to reach ${what}; last: ${JSON.stringify(last)?.slice(0, 1500)}`, 25);
}

export const waitState = (g, id, state, timeoutMs = 5000) =>
  waitDelivery(g, id, (d) => d.state === state, timeoutMs, `state ${state}`);

// Polls GET /api/endpoints/{name} until pred(endpoint) holds.
export async function waitEndpoint(g, name, pred, timeoutMs = 5000, what = 'a condition') {
  let last;
  return waitFor(async () => {
    last = await getEndpoint(g, name);
    return pred(last) ? last : null;
  }, timeoutMs, () => `endpoint ${name} to reach ${what}; last: ${JSON.stringify(last)?.slice(0, 1000)}`, 25);
}

// Follows a delivery until it is delivered or dead, and records every state
// it was seen in (consecutive repeats collapsed).
export async function watchStates(g, id, timeoutMs = 8000, intervalMs = 15) {
  const seen = [];
  const snapshots = new Map();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await getDelivery(g, id);
    if (seen[seen.length - 1] !== d.state) seen.push(d.state);
    if (!snapshots.has(d.state)) snapshots.set(d.state, d);
    if (d.state === 'delivered' || d.state === 'dead') return { seen, snapshots, last: d };
    if (Date.now() > deadline) {
      throw new Error(`delivery ${id} still ${d.state} after ${timeoutMs} ms (states ${seen.join(' > ')})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// A header of an attempt's recorded response, whatever its case.
export function responseHeader(attempt, name) {
  const h = attempt?.response?.headers || {};
  const k = Object.keys(h).find((x) => x.toLowerCase() === name.toLowerCase());
  return k === undefined ? undefined : h[k];
}

// The attempts of a delivery, by attempt number.
export const attemptsOf = (d) => [...(d.attempts || [])].sort((a, b) => a.n - b.n);

// ---------------------------------------------------------------------------
// Config text

// One YAML value: strings double-quoted, numbers and booleans plain, lists
// and maps in flow style.
function yamlValue(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `[${v.map(yamlValue).join(', ')}]`;
  if (typeof v === 'object') {
    return `{${Object.entries(v).filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${JSON.stringify(k)}: ${yamlValue(x)}`).join(', ')}}`;
  }
  return JSON.stringify(v);
}

// A YAML list of endpoints: each a block mapping whose values are flow-style.
export function endpointsYaml(endpoints) {
  let out = 'endpoints:\n';
  for (const ep of endpoints) {
    let first = true;
    for (const [k, v] of Object.entries(ep)) {
      if (v === undefined) continue;
      out += `${first ? '  - ' : '    '}${k}: ${yamlValue(v)}\n`;
      first = false;
    }
  }
  return out;
}

// Sources with auth: none on the generic preset.
export function sourcesYaml(names) {
  let out = 'sources:\n';
  for (const n of names) out += `  - name: ${n}\n    preset: generic\n    auth: none\n`;
  return out;
}

// A whole gateway config: sources, optional delivery block, endpoints.
export function deliveryConfig({ sources, endpoints, delivery, logLevel = 'info' }) {
  let out = `listen: 127.0.0.1:0
admin: {listen: 127.0.0.1:0, token: "\${DESKHOOK_ADMIN_TOKEN}"}
store: sqlite:deskhook.db
log: {level: ${logLevel}, access: true}
`;
  if (delivery) out += `delivery: ${yamlValue(delivery)}\n`;
  out += sourcesYaml(sources);
  if (endpoints && endpoints.length) out += endpointsYaml(endpoints);
  return out;
}
