// Every signature scheme of the gateway against the platforms' own signing:
// the reference libraries where a platform publishes one (standardwebhooks,
// svix, stripe, @octokit/webhooks-methods), and otherwise node:crypto
// following the platform's documented algorithm. For each scheme: a valid
// request, a tampered body, a wrong secret, a missing header, a timestamp out
// of tolerance (where the scheme has one) and secret rotation. A refused
// request's answer (and the gateway's log) must never contain the signature
// the gateway expected. Then the token schemes, allow_ips with and without
// trusted proxies, a combination of schemes, and a tolerance override.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import Stripe from 'stripe';
import { sign as octokitSign } from '@octokit/webhooks-methods';
import { start, cleanup, nonce, errorOf } from './lib/gateway.mjs';

const stripe = new Stripe('sk_test_x');

// ---------------------------------------------------------------------------
// Secrets: two per source (rotation), and one the gateway does not know.

const whsec = () => `whsec_${randomBytes(32).toString('base64')}`;
const hex = () => randomBytes(24).toString('hex');
const pair = (f) => [f(), f()];

const SEC = {
  sw: pair(whsec),
  svix: pair(whsec),
  github: pair(hex),
  stripe: [`whsec_${hex()}`, `whsec_${hex()}`],
  slack: pair(hex),
  zendesk: pair(hex),
  intercom: pair(hex),
  hubspot: pair(hex),
  helpscout: pair(hex),
  front: pair(hex),
  jira: pair(hex),
  hmacTs: pair(hex),
  hmacHex: pair(hex),
};
const WRONG = { whsec: whsec(), stripe: `whsec_${hex()}`, hex: hex() };

// Freshchat signs with its private key; the gateway holds public keys.
const rsa = () => generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const FC = rsa();
const FC2 = rsa();
const FC_WRONG = rsa();

const TOKENS = ['bearer-token-a', 'bearer-token-b'];
const API_KEYS = ['api-key-one', 'api-key-two'];
const BASIC = { u: 'p4ss-word', other: 's3cond' };
const HUBSPOT_BASE = 'https://hooks.example.com';

const quoted = (a) => `[${a.map((s) => JSON.stringify(s)).join(', ')}]`;

const CONFIG = `listen: 127.0.0.1:0
admin: {listen: 127.0.0.1:0, token: "\${DESKHOOK_ADMIN_TOKEN}"}
store: sqlite:deskhook.db
log: {level: info, access: true}
sources:
  - name: standard-webhooks
    preset: generic
    auth: {standard-webhooks: {secrets: ${quoted(SEC.sw)}}}
  - name: svix
    preset: generic
    auth: {svix: {secrets: ${quoted(SEC.svix)}}}
  - name: github
    preset: generic
    auth: {github: {secrets: ${quoted(SEC.github)}}}
  - name: stripe
    preset: generic
    auth: {stripe: {secrets: ${quoted(SEC.stripe)}}}
  - name: stripe-1m
    preset: generic
    auth: {stripe: {secrets: ${quoted(SEC.stripe)}, tolerance: 1m}}
  - name: slack
    preset: generic
    auth: {slack: {secrets: ${quoted(SEC.slack)}}}
  - name: zendesk
    preset: generic
    auth: {zendesk: {secrets: ${quoted(SEC.zendesk)}}}
  - name: intercom
    preset: generic
    auth: {intercom: {secrets: ${quoted(SEC.intercom)}}}
  - name: hubspot
    preset: generic
    auth: {hubspot: {secrets: ${quoted(SEC.hubspot)}, base_url: "${HUBSPOT_BASE}"}}
  - name: hubspot-host
    preset: generic
    auth: {hubspot: {secrets: ${quoted(SEC.hubspot)}}}
  - name: helpscout
    preset: generic
    auth: {helpscout: {secrets: ${quoted(SEC.helpscout)}}}
  - name: front
    preset: generic
    auth: {front: {secrets: ${quoted(SEC.front)}}}
  - name: jira
    preset: generic
    auth: {jira: {secrets: ${quoted(SEC.jira)}}}
  - name: freshchat
    preset: generic
    auth: {freshchat: {public_key: "\${FC_KEY}"}}
  - name: freshchat-rotation
    preset: generic
    auth: {freshchat: {public_keys: ["\${FC_KEY}", "\${FC_KEY2}"]}}
  - name: freshchat-escaped-env
    preset: generic
    auth: {freshchat: {public_key: "\${FC_KEY_ESCAPED}"}}
  - name: freshchat-escaped-inline
    preset: generic
    auth: {freshchat: {public_key: '${FC.publicKey.trim().replace(/\n/g, '\\n')}'}}
  - name: hmac-ts
    preset: generic
    auth: {hmac: {header: X-Sig, algorithm: sha256, encoding: base64, signed: "{timestamp}.{body}", timestamp_header: X-Ts, secrets: ${quoted(SEC.hmacTs)}}}
  - name: hmac-hex
    preset: generic
    auth: {hmac: {header: X-Sig, algorithm: sha256, encoding: hex, prefix: "sha256=", secrets: ${quoted(SEC.hmacHex)}}}
  - name: bearer
    preset: generic
    auth: {bearer: {tokens: ${quoted(TOKENS)}}}
  - name: basic
    preset: generic
    auth: {basic: {users: {u: "${BASIC.u}", other: "${BASIC.other}"}}}
  - name: header
    preset: generic
    auth: {header: {name: X-Api-Key, tokens: ${quoted(API_KEYS)}}}
  - name: ip-local
    preset: generic
    auth: {allow_ips: {cidrs: ["127.0.0.1/32"]}}
  - name: ip-ten
    preset: generic
    auth: {allow_ips: {cidrs: ["10.0.0.0/8"]}}
  - name: ip-proxied
    preset: generic
    auth: {allow_ips: {cidrs: ["10.0.0.0/8"], trusted_proxies: ["127.0.0.1/32"]}}
  - name: ip-other-proxy
    preset: generic
    auth: {allow_ips: {cidrs: ["10.0.0.0/8"], trusted_proxies: ["10.9.9.9/32"]}}
  - name: github-local
    preset: generic
    auth: {github: {secrets: ${quoted(SEC.github)}}, allow_ips: {cidrs: ["127.0.0.1/32"]}}
  - name: github-ten
    preset: generic
    auth: {github: {secrets: ${quoted(SEC.github)}}, allow_ips: {cidrs: ["10.0.0.0/8"]}}
`;

const ENV = {
  FC_KEY: FC.publicKey,                                // real newlines
  FC_KEY2: FC2.publicKey,
  FC_KEY_ESCAPED: FC.publicKey.replace(/\n/g, '\\n'),  // literal backslash-n, one line
};

// ---------------------------------------------------------------------------
// Helpers

const hmac = (alg, key, msg, enc) => createHmac(alg, key).update(msg).digest(enc);
const seconds = (ms) => Math.floor(ms / 1000);
// Zendesk's timestamp form: 2026-11-23T15:27:04Z (no fraction).
const isoSeconds = (ms) => new Date(seconds(ms) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

let seq = 0;
const newBody = (what) => JSON.stringify({
  title: `signature test ${what}`, id: `t-${process.pid}-${++seq}`, n: nonce(),
});
const tamper = (body) => JSON.stringify({ ...JSON.parse(body), title: 'tampered in transit' });
const params = (offsetMs = 0) => ({ ms: Date.now() + offsetMs, id: `msg_${nonce()}` });

// Every expected signature the gateway could have computed for a refused
// request, in the encodings it might leak in. Collected for the log check.
const watched = new Set();
function leakForms(sig, enc) {
  const b = Buffer.from(sig, enc);
  const forms = [sig, b.toString('hex'), b.toString('base64'), b.toString('base64').replace(/=+$/, ''),
    b.toString('base64url')];
  return forms.filter((f) => f.length >= 16);
}

function accepted(r, what) {
  assert.equal(r.status, 200, `${what}: expected 200, got ${r.status} ${r.text.slice(0, 300)}`);
  assert.equal(r.json && r.json.status, 'accepted', `${what}: ${r.text.slice(0, 300)}`);
}

function refused(r, status, code, what, leaks = []) {
  const where = `${what}: got ${r.status} ${r.text.slice(0, 400)}`;
  assert.equal(r.status, status, `status, ${where}`);
  const e = errorOf(r);
  assert.ok(e, `error object, ${where}`);
  assert.equal(e.code, code, `error.code, ${where}`);
  assert.equal(typeof e.message, 'string', `error.message, ${where}`);
  for (const l of leaks) {
    watched.add(l);
    assert.ok(!r.text.includes(l), `${what}: the answer contains an expected value (${l.slice(0, 12)}…)`);
    for (const [k, v] of Object.entries(r.headers)) {
      assert.ok(!String(v).includes(l), `${what}: response header ${k} contains an expected value`);
    }
  }
  return e;
}

// ---------------------------------------------------------------------------
// The schemes. Each entry:
//   source     the source name (POSTs go to /webhooks/<source>, or path)
//   secrets    the two configured secrets; wrong: one that is not configured
//   sign(body, secret, p)   the headers the platform sends; p = {ms, id}
//   sigOf(headers)          the signature alone (enc: its encoding)
//   required   headers whose absence is missing_signature
//   timestamped             the scheme carries a timestamp (5 min tolerance)

const SCHEMES = [
  {
    name: 'standard-webhooks (standardwebhooks package)',
    source: 'standard-webhooks', secrets: SEC.sw, wrong: WRONG.whsec, timestamped: true, enc: 'base64',
    sign: async (body, secret, p) => ({
      'webhook-id': p.id,
      'webhook-timestamp': String(seconds(p.ms)),
      'webhook-signature': new Webhook(secret).sign(p.id, new Date(p.ms), body),
    }),
    sigOf: (h) => h['webhook-signature'].replace(/^v1,/, ''),
    required: ['webhook-signature', 'webhook-id', 'webhook-timestamp'],
  },
  {
    name: 'standard-webhooks source with svix-* headers (svix package)',
    source: 'standard-webhooks', secrets: SEC.sw, wrong: WRONG.whsec, timestamped: true, enc: 'base64',
    sign: async (body, secret, p) => ({
      'svix-id': p.id,
      'svix-timestamp': String(seconds(p.ms)),
      'svix-signature': new SvixWebhook(secret).sign(p.id, new Date(p.ms), body),
    }),
    sigOf: (h) => h['svix-signature'].replace(/^v1,/, ''),
    required: ['svix-signature', 'svix-id', 'svix-timestamp'],
  },
  {
    name: 'svix (svix package)',
    source: 'svix', secrets: SEC.svix, wrong: WRONG.whsec, timestamped: true, enc: 'base64',
    sign: async (body, secret, p) => ({
      'svix-id': p.id,
      'svix-timestamp': String(seconds(p.ms)),
      'svix-signature': new SvixWebhook(secret).sign(p.id, new Date(p.ms), body),
    }),
    sigOf: (h) => h['svix-signature'].replace(/^v1,/, ''),
    required: ['svix-signature', 'svix-id', 'svix-timestamp'],
  },
  {
    name: 'svix source with webhook-* headers (standardwebhooks package)',
    source: 'svix', secrets: SEC.svix, wrong: WRONG.whsec, timestamped: true, enc: 'base64',
    sign: async (body, secret, p) => ({
      'webhook-id': p.id,
      'webhook-timestamp': String(seconds(p.ms)),
      'webhook-signature': new Webhook(secret).sign(p.id, new Date(p.ms), body),
    }),
    sigOf: (h) => h['webhook-signature'].replace(/^v1,/, ''),
    required: ['webhook-signature', 'webhook-id', 'webhook-timestamp'],
  },
  {
    name: 'github (@octokit/webhooks-methods)',
    source: 'github', secrets: SEC.github, wrong: WRONG.hex, enc: 'hex',
    sign: async (body, secret) => ({ 'X-Hub-Signature-256': await octokitSign(secret, body) }),
    sigOf: (h) => h['X-Hub-Signature-256'].replace(/^sha256=/, ''),
    required: ['X-Hub-Signature-256'],
  },
  {
    name: 'stripe (stripe package)',
    source: 'stripe', secrets: SEC.stripe, wrong: WRONG.stripe, timestamped: true, enc: 'hex',
    sign: async (body, secret, p) => ({
      'Stripe-Signature': stripe.webhooks.generateTestHeaderString({
        payload: body, secret, timestamp: seconds(p.ms),
      }),
    }),
    sigOf: (h) => /v1=([0-9a-f]+)/.exec(h['Stripe-Signature'])[1],
    required: ['Stripe-Signature'],
  },
  {
    // Slack, "Verifying requests from Slack": concatenate the version number,
    // the timestamp and the request body with a colon as the delimiter
    // ("v0:" + X-Slack-Request-Timestamp + ":" + body), hash it with HMAC
    // SHA256 keyed by the signing secret, and compare "v0=" + the hex digest
    // with X-Slack-Signature. The timestamp is in seconds; Slack suggests
    // ignoring requests more than five minutes away from local time.
    name: 'slack (node:crypto, documented algorithm)',
    source: 'slack', secrets: SEC.slack, wrong: WRONG.hex, timestamped: true, enc: 'hex',
    sign: async (body, secret, p) => {
      const ts = String(seconds(p.ms));
      return {
        'X-Slack-Signature': `v0=${hmac('sha256', secret, `v0:${ts}:${body}`, 'hex')}`,
        'X-Slack-Request-Timestamp': ts,
      };
    },
    sigOf: (h) => h['X-Slack-Signature'].replace(/^v0=/, ''),
    required: ['X-Slack-Signature', 'X-Slack-Request-Timestamp'],
  },
  {
    // Zendesk, "Verifying webhook authenticity": sign the body and the
    // signature timestamp with the webhook's signing secret using SHA256,
    // then base64-encode the digest: base64(HMACSHA256(TIMESTAMP + BODY)).
    // X-Zendesk-Webhook-Signature-Timestamp is ISO 8601 (2026-11-23T15:27:04Z).
    name: 'zendesk (node:crypto, documented algorithm)',
    source: 'zendesk', secrets: SEC.zendesk, wrong: WRONG.hex, timestamped: true, enc: 'base64',
    sign: async (body, secret, p) => {
      const ts = isoSeconds(p.ms);
      return {
        'X-Zendesk-Webhook-Signature': hmac('sha256', secret, ts + body, 'base64'),
        'X-Zendesk-Webhook-Signature-Timestamp': ts,
      };
    },
    sigOf: (h) => h['X-Zendesk-Webhook-Signature'],
    required: ['X-Zendesk-Webhook-Signature', 'X-Zendesk-Webhook-Signature-Timestamp'],
  },
  {
    // Intercom, webhook "Signed notifications": X-Hub-Signature holds
    // "sha1=" + the hex HMAC-SHA1 of the request body, keyed with the app's
    // client_secret.
    name: 'intercom (node:crypto, documented algorithm)',
    source: 'intercom', secrets: SEC.intercom, wrong: WRONG.hex, enc: 'hex',
    sign: async (body, secret) => ({ 'X-Hub-Signature': `sha1=${hmac('sha1', secret, body, 'hex')}` }),
    sigOf: (h) => h['X-Hub-Signature'].replace(/^sha1=/, ''),
    required: ['X-Hub-Signature'],
  },
  {
    // HubSpot, "Validate the v3 request signature": reject the request if the
    // timestamp is older than 5 minutes; in the request URI decode the
    // URL-encoded characters of HubSpot's table (%3A -> :, %2F -> /, %3F -> ?,
    // %40 -> @, %21 -> !, %24 -> $, %27 -> ', %28 -> (, %29 -> ), %2A -> *,
    // %2C -> ,, %3B -> ;); concatenate requestMethod + requestUri +
    // requestBody + timestamp (X-HubSpot-Request-Timestamp, milliseconds);
    // HMAC SHA-256 it with the app's client secret and base64-encode the
    // result; compare with X-HubSpot-Signature-v3.
    name: 'hubspot (node:crypto, documented algorithm)',
    source: 'hubspot', path: '/webhooks/hubspot?x=1', secrets: SEC.hubspot, wrong: WRONG.hex,
    timestamped: true, enc: 'base64',
    sign: async (body, secret, p) => hubspotHeaders(body, secret, p, `${HUBSPOT_BASE}/webhooks/hubspot?x=1`),
    sigOf: (h) => h['X-HubSpot-Signature-v3'],
    required: ['X-HubSpot-Signature-v3', 'X-HubSpot-Request-Timestamp'],
  },
  {
    // Help Scout, "Webhooks": X-HelpScout-Signature is the base64-encoded
    // HMAC-SHA1 of the request body, keyed with the webhook's secret key.
    name: 'helpscout (node:crypto, documented algorithm)',
    source: 'helpscout', secrets: SEC.helpscout, wrong: WRONG.hex, enc: 'base64',
    sign: async (body, secret) => ({ 'X-HelpScout-Signature': hmac('sha1', secret, body, 'base64') }),
    sigOf: (h) => h['X-HelpScout-Signature'],
    required: ['X-HelpScout-Signature'],
  },
  {
    // Front, "Rule webhooks": "calculate the base64 encoded HMAC hash of the
    // request body using the SHA1 algorithm and your API secret as the key";
    // it must match X-Front-Signature.
    name: 'front rule webhook (node:crypto, documented algorithm)',
    source: 'front', secrets: SEC.front, wrong: WRONG.hex, enc: 'base64',
    sign: async (body, secret) => ({ 'X-Front-Signature': hmac('sha1', secret, body, 'base64') }),
    sigOf: (h) => h['X-Front-Signature'],
    required: ['X-Front-Signature'],
  },
  {
    // Front, "Application webhooks": concatenate the stringified timestamp of
    // X-Front-Request-Timestamp (milliseconds) and the body with a colon as
    // the delimiter ("{timestamp}:{body}"), HMAC SHA256 it with the app's
    // signing key, base64-encode it; it must match X-Front-Signature. Front
    // recommends refusing timestamps older than 5 minutes.
    name: 'front application webhook (node:crypto, documented algorithm)',
    source: 'front', secrets: SEC.front, wrong: WRONG.hex, timestamped: true, enc: 'base64',
    sign: async (body, secret, p) => ({
      'X-Front-Signature': hmac('sha256', secret, `${p.ms}:${body}`, 'base64'),
      'X-Front-Request-Timestamp': String(p.ms),
    }),
    sigOf: (h) => h['X-Front-Signature'],
    required: ['X-Front-Signature'],
  },
  {
    // Jira Cloud, admin webhooks with a secret: X-Hub-Signature in the WebSub
    // "method=signature" form, "sha256=" + the hex HMAC-SHA256 of the body.
    name: 'jira (node:crypto, documented algorithm)',
    source: 'jira', secrets: SEC.jira, wrong: WRONG.hex, enc: 'hex',
    sign: async (body, secret) => ({ 'X-Hub-Signature': `sha256=${hmac('sha256', secret, body, 'hex')}` }),
    sigOf: (h) => h['X-Hub-Signature'].replace(/^sha256=/, ''),
    required: ['X-Hub-Signature'],
  },
  {
    // Freshchat: X-Freshchat-Signature is the base64 RSA signature (SHA-256,
    // PKCS#1 v1.5) of the request body made with Freshchat's private key; it
    // is verified with the public key shown in the webhook settings.
    name: 'freshchat (node:crypto RSA-SHA256)',
    source: 'freshchat', secrets: [FC.privateKey, FC2.privateKey], wrong: FC_WRONG.privateKey, enc: 'base64',
    rotationSource: 'freshchat-rotation',
    sign: async (body, key) => ({ 'X-Freshchat-Signature': rsaSign(key, body) }),
    sigOf: (h) => h['X-Freshchat-Signature'],
    required: ['X-Freshchat-Signature'],
  },
  {
    // The generic hmac with a template: base64 HMAC-SHA256 of
    // "{timestamp}.{body}" in X-Sig, the timestamp (seconds) in X-Ts.
    name: 'hmac with signed: "{timestamp}.{body}" (node:crypto)',
    source: 'hmac-ts', secrets: SEC.hmacTs, wrong: WRONG.hex, timestamped: true, enc: 'base64',
    sign: async (body, secret, p) => {
      const ts = String(seconds(p.ms));
      return { 'X-Sig': hmac('sha256', secret, `${ts}.${body}`, 'base64'), 'X-Ts': ts };
    },
    sigOf: (h) => h['X-Sig'],
    required: ['X-Sig', 'X-Ts'],
  },
  {
    name: 'hmac hex with prefix "sha256=" (node:crypto)',
    source: 'hmac-hex', secrets: SEC.hmacHex, wrong: WRONG.hex, enc: 'hex',
    sign: async (body, secret) => ({ 'X-Sig': `sha256=${hmac('sha256', secret, body, 'hex')}` }),
    sigOf: (h) => h['X-Sig'].replace(/^sha256=/, ''),
    required: ['X-Sig'],
  },
];

function hubspotHeaders(body, secret, p, signedUrl) {
  const ts = String(p.ms);
  return {
    'X-HubSpot-Signature-v3': hmac('sha256', secret, `POST${signedUrl}${body}${ts}`, 'base64'),
    'X-HubSpot-Request-Timestamp': ts,
  };
}

function rsaSign(privateKey, body) {
  return createSign('RSA-SHA256').update(body).sign(privateKey, 'base64');
}

// ---------------------------------------------------------------------------

describe('signature schemes', () => {
  let g;
  before(async () => { g = await start(CONFIG, { env: ENV }); });
  after(() => cleanup(g));

  const post = (s, body, headers, source) =>
    g.post(source ? `/webhooks/${source}` : (s.path || `/webhooks/${s.source}`), body, { headers });

  // The signatures the gateway would compute, under each configured secret,
  // for this body and these parameters: none of them may appear in an answer.
  async function expected(s, body, p) {
    const out = [];
    for (const secret of s.secrets) {
      out.push(...leakForms(s.sigOf(await s.sign(body, secret, p)), s.enc));
      if (typeof secret === 'string') out.push(secret);
    }
    return out;
  }

  for (const s of SCHEMES) {
    describe(s.name, () => {
      it('valid signature: 200, and the event records that the first secret matched', async () => {
        const body = newBody(s.name);
        const r = await post(s, body, await s.sign(body, s.secrets[0], params()));
        accepted(r, `${s.name} valid`);
        const doc = (await g.admin(`/api/events/${r.json.id}`)).json;
        assert.deepEqual(doc.auth, { matched: 0 }, `${s.name}: ${JSON.stringify(doc.auth)}`);
      });

      it('rotation: signed with the second configured secret: 200, recorded as secret 1', async () => {
        const body = newBody(`${s.name} rotation`);
        const headers = await s.sign(body, s.secrets[1], params());
        const r = await post(s, body, headers, s.rotationSource);
        accepted(r, `${s.name} second secret`);
        const doc = (await g.admin(`/api/events/${r.json.id}`)).json;
        assert.deepEqual(doc.auth, { matched: 1 }, `${s.name}: ${JSON.stringify(doc.auth)}`);
        if (typeof s.secrets[1] === 'string') {
          assert.ok(!JSON.stringify(doc).includes(s.secrets[1]), 'the secret itself is not stored');
        }
      });

      it('tampered body: 401 invalid_signature, no expected signature in the answer', async () => {
        const body = newBody(s.name);
        const p = params();
        const headers = await s.sign(body, s.secrets[0], p);
        const bad = tamper(body);
        const r = await post(s, bad, headers);
        refused(r, 401, 'invalid_signature', `${s.name} tampered body`, await expected(s, bad, p));
      });

      it('wrong secret: 401 invalid_signature, no expected signature in the answer', async () => {
        const body = newBody(s.name);
        const p = params();
        const r = await post(s, body, await s.sign(body, s.wrong, p));
        refused(r, 401, 'invalid_signature', `${s.name} wrong secret`, await expected(s, body, p));
      });

      for (const name of s.required) {
        it(`missing ${name}: 401 missing_signature`, async () => {
          const body = newBody(s.name);
          const headers = await s.sign(body, s.secrets[0], params());
          delete headers[name];
          refused(await post(s, body, headers), 401, 'missing_signature', `${s.name} without ${name}`);
        });
      }

      if (s.timestamped) {
        it('timestamp 10 minutes old or ahead: 401 timestamp_out_of_tolerance', async () => {
          for (const off of [-10 * 60e3, 10 * 60e3]) {
            const body = newBody(s.name);
            const p = params(off);
            const r = await post(s, body, await s.sign(body, s.secrets[0], p));
            refused(r, 401, 'timestamp_out_of_tolerance', `${s.name} timestamp ${off / 60e3} min`,
              await expected(s, body, p));
          }
        });

        it('timestamp 4 minutes old (default tolerance 5 minutes): 200', async () => {
          const body = newBody(s.name);
          accepted(await post(s, body, await s.sign(body, s.secrets[0], params(-4 * 60e3))),
            `${s.name} 4 min old`);
        });
      }
    });
  }

  describe('scheme details', () => {
    it('standard-webhooks: several space-separated signatures, one valid: 200', async () => {
      const body = newBody('sw multi');
      const p = params();
      const date = new Date(p.ms);
      const wrong = new Webhook(WRONG.whsec).sign(p.id, date, body);
      const good = new Webhook(SEC.sw[1]).sign(p.id, date, body);
      const headers = {
        'webhook-id': p.id, 'webhook-timestamp': String(seconds(p.ms)),
        'webhook-signature': `${wrong} v1a,${randomBytes(64).toString('base64')} ${good}`,
      };
      accepted(await g.post('/webhooks/standard-webhooks', body, { headers }), 'several signatures');
      headers['webhook-signature'] = `${wrong} v1a,${randomBytes(64).toString('base64')}`;
      refused(await g.post('/webhooks/standard-webhooks', newBody('sw multi bad'), { headers }), 401,
        'invalid_signature', 'several signatures, none valid');
    });

    it('standard-webhooks: the message id is signed', async () => {
      const body = newBody('sw id');
      const p = params();
      const headers = await SCHEMES[0].sign(body, SEC.sw[0], p);
      headers['webhook-id'] = `msg_${nonce()}`;
      refused(await g.post('/webhooks/standard-webhooks', body, { headers }), 401, 'invalid_signature',
        'changed webhook-id');
    });

    it('stripe: several v1 signatures (secret rolling), one valid: 200', async () => {
      const body = newBody('stripe multi');
      const ts = seconds(Date.now());
      const sig = (secret) => /v1=([0-9a-f]+)/.exec(stripe.webhooks.generateTestHeaderString({
        payload: body, secret, timestamp: ts,
      }))[1];
      const headers = { 'Stripe-Signature': `t=${ts},v1=${sig(WRONG.stripe)},v1=${sig(SEC.stripe[1])}` };
      accepted(await g.post('/webhooks/stripe', body, { headers }), 'stripe two v1 entries');
    });

    it('stripe: tolerance: 1m refuses a 2-minute-old timestamp and accepts a 30 s old one', async () => {
      const sign = (body, ageS) => ({
        'Stripe-Signature': stripe.webhooks.generateTestHeaderString({
          payload: body, secret: SEC.stripe[0], timestamp: seconds(Date.now()) - ageS,
        }),
      });
      let body = newBody('stripe 1m old');
      refused(await g.post('/webhooks/stripe-1m', body, { headers: sign(body, 120) }), 401,
        'timestamp_out_of_tolerance', 'stripe tolerance 1m, 2 min old');
      body = newBody('stripe 1m fresh');
      accepted(await g.post('/webhooks/stripe-1m', body, { headers: sign(body, 30) }),
        'stripe tolerance 1m, 30 s old');
      // The same 2-minute-old request is fine under the default tolerance.
      body = newBody('stripe 5m');
      accepted(await g.post('/webhooks/stripe', body, { headers: sign(body, 120) }),
        'stripe default tolerance, 2 min old');
    });

    it('hubspot: a query with %3A is signed decoded (":")', async () => {
      const body = newBody('hubspot decode');
      const p = params();
      const headers = hubspotHeaders(body, SEC.hubspot[0], p,
        `${HUBSPOT_BASE}/webhooks/hubspot?x=1&at=10:30&to=a@b`);
      accepted(await g.post('/webhooks/hubspot?x=1&at=10%3A30&to=a%40b', body, { headers }),
        'hubspot %3A and %40 in the query');
    });

    it('hubspot: other escapes (%20) stay encoded in the signed URL', async () => {
      const body = newBody('hubspot %20');
      const headers = hubspotHeaders(body, SEC.hubspot[0], params(),
        `${HUBSPOT_BASE}/webhooks/hubspot?q=a%20b&at=1:2`);
      accepted(await g.post('/webhooks/hubspot?q=a%20b&at=1%3A2', body, { headers }), 'hubspot %20 kept');
    });

    it('hubspot without base_url: https:// and the Host header', async () => {
      const body = newBody('hubspot host');
      const headers = {
        ...hubspotHeaders(body, SEC.hubspot[0], params(), 'https://hooks.example.org/webhooks/hubspot-host'),
        Host: 'hooks.example.org',
      };
      accepted(await g.post('/webhooks/hubspot-host', body, { headers }), 'hubspot signed for https://<Host>');
    });

    it('hubspot: the URL is signed (another query or host is refused)', async () => {
      const body = newBody('hubspot url');
      const p = params();
      let headers = hubspotHeaders(body, SEC.hubspot[0], p, `${HUBSPOT_BASE}/webhooks/hubspot?x=2`);
      refused(await g.post('/webhooks/hubspot?x=1', body, { headers }), 401, 'invalid_signature',
        'hubspot signed for ?x=2, sent ?x=1');
      headers = hubspotHeaders(body, SEC.hubspot[0], p, 'https://other.example.com/webhooks/hubspot?x=1');
      refused(await g.post('/webhooks/hubspot?x=1', body, { headers }), 401, 'invalid_signature',
        'hubspot signed for another host');
    });

    it('hmac with a timestamp template: a timestamp in milliseconds is accepted too', async () => {
      const body = newBody('hmac ms');
      const ts = String(Date.now());
      const headers = { 'X-Sig': hmac('sha256', SEC.hmacTs[0], `${ts}.${body}`, 'base64'), 'X-Ts': ts };
      accepted(await g.post('/webhooks/hmac-ts', body, { headers }), 'hmac-ts, ms timestamp');
      const old = String(Date.now() - 10 * 60e3);
      const oldHeaders = { 'X-Sig': hmac('sha256', SEC.hmacTs[0], `${old}.${body}`, 'base64'), 'X-Ts': old };
      refused(await g.post('/webhooks/hmac-ts', body, { headers: oldHeaders }), 401, 'timestamp_out_of_tolerance',
        'hmac-ts, ms timestamp 10 minutes old');
    });

    it('front: an application signature without its timestamp header is not a rule signature', async () => {
      const body = newBody('front mix');
      const p = params();
      const headers = {
        'X-Front-Signature': hmac('sha256', SEC.front[0], `${p.ms}:${body}`, 'base64'),
      };
      refused(await g.post('/webhooks/front', body, { headers }), 401, 'invalid_signature',
        'front application signature without X-Front-Request-Timestamp');
    });

    it('freshchat: a PEM with literal \\n (environment variable and inline): 200', async () => {
      for (const source of ['freshchat-escaped-env', 'freshchat-escaped-inline']) {
        const body = newBody(source);
        const headers = { 'X-Freshchat-Signature': rsaSign(FC.privateKey, body) };
        accepted(await g.post(`/webhooks/${source}`, body, { headers }), `${source} valid`);
        refused(await g.post(`/webhooks/${source}`, tamper(body), { headers }), 401, 'invalid_signature',
          `${source} tampered`);
      }
    });

    it('freshchat: a signature by a key that is not configured: 401 invalid_signature', async () => {
      const body = newBody('freshchat-rotation wrong');
      const headers = { 'X-Freshchat-Signature': rsaSign(FC_WRONG.privateKey, body) };
      refused(await g.post('/webhooks/freshchat-rotation', body, { headers }), 401, 'invalid_signature',
        'freshchat-rotation, unknown key');
    });
  });

  describe('token schemes', () => {
    it('bearer: either token is accepted; a wrong or missing one is 401 invalid_token', async () => {
      for (const t of TOKENS) {
        accepted(await g.post('/webhooks/bearer', newBody('bearer'), { token: t }), `bearer ${t}`);
      }
      refused(await g.post('/webhooks/bearer', newBody('bearer'), { token: 'nope' }), 401, 'invalid_token',
        'bearer wrong token', TOKENS);
      refused(await g.post('/webhooks/bearer', newBody('bearer'), {}), 401, 'invalid_token',
        'bearer missing', TOKENS);
      // The authentication scheme name is case-insensitive (RFC 9110 11.1).
      accepted(await g.post('/webhooks/bearer', newBody('bearer'),
        { headers: { Authorization: `bearer ${TOKENS[0]}` } }), 'lower-case "bearer"');
      refused(await g.post('/webhooks/bearer', newBody('bearer'),
        { headers: { Authorization: `Basic ${Buffer.from(`u:${TOKENS[0]}`).toString('base64')}` } }),
      401, 'invalid_token', 'bearer token sent as Basic');
    });

    it('basic: each user is accepted; a wrong password, user or none is 401 invalid_token', async () => {
      const auth = (u, p) => ({ Authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
      for (const [u, p] of Object.entries(BASIC)) {
        accepted(await g.post('/webhooks/basic', newBody('basic'), { headers: auth(u, p) }), `basic ${u}`);
      }
      const pw = Object.values(BASIC);
      refused(await g.post('/webhooks/basic', newBody('basic'), { headers: auth('u', 'wrong') }), 401,
        'invalid_token', 'basic wrong password', pw);
      refused(await g.post('/webhooks/basic', newBody('basic'), { headers: auth('u', BASIC.other) }), 401,
        'invalid_token', "basic another user's password", pw);
      refused(await g.post('/webhooks/basic', newBody('basic'), { headers: auth('nobody', BASIC.u) }), 401,
        'invalid_token', 'basic unknown user', pw);
      refused(await g.post('/webhooks/basic', newBody('basic'), {}), 401, 'invalid_token', 'basic missing', pw);
      refused(await g.post('/webhooks/basic', newBody('basic'), { headers: { Authorization: 'Basic %%%not-base64' } }),
        401, 'invalid_token', 'basic, not base64', pw);
    });

    it('header: X-Api-Key with either token is accepted; wrong or missing is 401 invalid_token', async () => {
      for (const k of API_KEYS) {
        accepted(await g.post('/webhooks/header', newBody('header'), { headers: { 'X-Api-Key': k } }),
          `X-Api-Key ${k}`);
      }
      refused(await g.post('/webhooks/header', newBody('header'), { headers: { 'X-Api-Key': 'nope' } }), 401,
        'invalid_token', 'X-Api-Key wrong', API_KEYS);
      refused(await g.post('/webhooks/header', newBody('header'), {}), 401, 'invalid_token',
        'X-Api-Key missing', API_KEYS);
      refused(await g.post('/webhooks/header', newBody('header'), { token: API_KEYS[0] }), 401,
        'invalid_token', 'the key sent as a bearer token', API_KEYS);
    });
  });

  describe('allow_ips', () => {
    it('cidrs [127.0.0.1/32]: 200 from 127.0.0.1', async () => {
      accepted(await g.post('/webhooks/ip-local', newBody('ip')), 'ip-local');
    });

    it('cidrs [10.0.0.0/8]: 403 ip_not_allowed from 127.0.0.1, X-Forwarded-For is not trusted', async () => {
      refused(await g.post('/webhooks/ip-ten', newBody('ip')), 403, 'ip_not_allowed', 'ip-ten');
      refused(await g.post('/webhooks/ip-ten', newBody('ip'), { headers: { 'X-Forwarded-For': '10.1.2.3' } }),
        403, 'ip_not_allowed', 'ip-ten with X-Forwarded-For 10.1.2.3 and no trusted proxy');
    });

    it('trusted_proxies [127.0.0.1/32]: the forwarded client address decides', async () => {
      const xff = (v) => ({ headers: { 'X-Forwarded-For': v } });
      accepted(await g.post('/webhooks/ip-proxied', newBody('xff'), xff('10.1.2.3')), 'X-Forwarded-For 10.1.2.3');
      refused(await g.post('/webhooks/ip-proxied', newBody('xff'), xff('192.168.1.1')), 403, 'ip_not_allowed',
        'X-Forwarded-For 192.168.1.1');
      // The right-most address that is not a trusted proxy is the client;
      // what a client writes to the left of it is not believed.
      accepted(await g.post('/webhooks/ip-proxied', newBody('xff'), xff('10.1.2.3, 127.0.0.1')),
        'X-Forwarded-For 10.1.2.3, 127.0.0.1');
      refused(await g.post('/webhooks/ip-proxied', newBody('xff'), xff('10.1.2.3, 192.168.1.1')), 403,
        'ip_not_allowed', 'X-Forwarded-For 10.1.2.3, 192.168.1.1 (spoofed left entry)');
      refused(await g.post('/webhooks/ip-proxied', newBody('xff')), 403, 'ip_not_allowed',
        'from the proxy itself without X-Forwarded-For');
      refused(await g.post('/webhooks/ip-proxied', newBody('xff'), xff('not-an-address')), 403, 'ip_not_allowed',
        'X-Forwarded-For not an address');
    });

    it('X-Forwarded-For in two header lines is one list (RFC 9110 5.3): the right-most entry decides', async () => {
      // A proxy may add its own X-Forwarded-For line after the one the client
      // sent instead of appending to it (HAProxy's option forwardfor does).
      // The lines together mean "10.1.2.3, 192.168.1.1": the client is
      // 192.168.1.1, and the 10.1.2.3 the client wrote must not be believed.
      refused(await g.post('/webhooks/ip-proxied', newBody('xff lines'),
        { headers: { 'X-Forwarded-For': ['10.1.2.3', '192.168.1.1'] } }), 403, 'ip_not_allowed',
      'X-Forwarded-For: 10.1.2.3 then X-Forwarded-For: 192.168.1.1');
      accepted(await g.post('/webhooks/ip-proxied', newBody('xff lines'),
        { headers: { 'X-Forwarded-For': ['192.168.1.1', '10.1.2.3'] } }),
      'X-Forwarded-For: 192.168.1.1 then X-Forwarded-For: 10.1.2.3');
    });

    it('X-Forwarded-For from a peer that is not a trusted proxy is ignored', async () => {
      refused(await g.post('/webhooks/ip-other-proxy', newBody('xff untrusted'),
        { headers: { 'X-Forwarded-For': '10.1.2.3' } }), 403, 'ip_not_allowed',
      'peer 127.0.0.1, trusted_proxies [10.9.9.9/32], X-Forwarded-For 10.1.2.3');
    });

    it('github and allow_ips together: both must pass', async () => {
      const signed = async (body, secret = SEC.github[0]) =>
        ({ headers: { 'X-Hub-Signature-256': await octokitSign(secret, body) } });
      let body = newBody('combined');
      accepted(await g.post('/webhooks/github-local', body, await signed(body)), 'allowed address, valid signature');
      body = newBody('combined');
      refused(await g.post('/webhooks/github-local', body, await signed(body, WRONG.hex)), 401,
        'invalid_signature', 'allowed address, wrong secret');
      refused(await g.post('/webhooks/github-local', newBody('combined')), 401, 'missing_signature',
        'allowed address, no signature');
      body = newBody('combined');
      refused(await g.post('/webhooks/github-ten', body, await signed(body)), 403, 'ip_not_allowed',
        'address not allowed, valid signature');
    });
  });

  it('the gateway log never contains an expected signature or a secret', () => {
    const log = g.rawLines.join('\n');
    const secrets = [...Object.values(SEC).flat(), ...Object.values(WRONG), ...TOKENS, ...API_KEYS,
      ...Object.values(BASIC)];
    assert.ok(watched.size > 0, 'expected signatures were collected');
    for (const v of [...watched, ...secrets]) {
      assert.ok(!log.includes(v), `the log contains an expected signature or secret (${v.slice(0, 12)}…)`);
    }
  });
});
