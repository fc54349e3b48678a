// The signature commands of the CLI: `deskhook secret`, `sign`, `verify` and
// `send`. What `sign` prints must verify with the platforms' reference
// libraries (standardwebhooks, svix, stripe, @octokit/webhooks-methods) or,
// where there is none, with the platform's documented algorithm, and must be
// accepted by deskhook's own gateway. `verify` must accept what the reference
// libraries produce and refuse tampered requests with the reason. `send`
// signs and POSTs to a running gateway.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac, createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import Stripe from 'stripe';
import { sign as octokitSign, verify as octokitVerify } from '@octokit/webhooks-methods';
import { BIN, baseEnv, requireBuilt, start, cleanup, nonce, errorOf } from './lib/gateway.mjs';

const stripe = new Stripe('sk_test_x');
const HUBSPOT_BASE = 'https://hooks.example.com';

// Runs the binary with body on standard input. Resolves with {code, signal,
// stdout, stderr}. Asynchronous, so a gateway started by this process keeps
// being read while a command runs.
function cli(args, input = '', o = {}) {
  requireBuilt(false);
  return new Promise((resolve, reject) => {
    const p = spawn(BIN, args, { env: baseEnv(o.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), o.timeout || 15000);
    p.stdout.setEncoding('utf8');
    p.stderr.setEncoding('utf8');
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('error', (e) => { clearTimeout(timer); reject(e); });
    p.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
    p.stdin.on('error', () => { /* the command may exit before reading */ });
    p.stdin.end(input);
  });
}

const show = (r) => `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

// `Name: value` lines -> {exact: {Name: value}, lower: {name: value}}.
function parseHeaders(text) {
  const exact = {};
  const lower = {};
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = /^([A-Za-z0-9-]+): (.*)$/.exec(line);
    assert.ok(m, `"${line}" is a "Name: value" line`);
    exact[m[1]] = m[2];
    lower[m[1].toLowerCase()] = m[2];
  }
  return { exact, lower };
}

async function signed(args, body) {
  const r = await cli(['sign', ...args], body);
  assert.equal(r.code, 0, `deskhook sign ${args.join(' ')}: ${show(r)}`);
  return parseHeaders(r.stdout);
}

const hmac = (alg, key, msg, enc) => createHmac(alg, key).update(msg).digest(enc);
const nowS = () => Math.floor(Date.now() / 1000);
const newBody = (what) => JSON.stringify({ title: `cli ${what}`, n: nonce() });
const tamper = (body) => JSON.stringify({ ...JSON.parse(body), title: 'tampered' });
const hFlags = (headers) => Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);

function accepted(r, what) {
  assert.equal(r.status, 200, `${what}: expected 200, got ${r.status} ${r.text.slice(0, 300)}`);
}

function refused(r, status, code, what) {
  assert.equal(r.status, status, `${what}: got ${r.status} ${r.text.slice(0, 300)}`);
  assert.equal(errorOf(r)?.code, code, `${what}: ${r.text.slice(0, 300)}`);
}

// ---------------------------------------------------------------------------
// Secrets, made by `deskhook secret` itself in before(). Freshchat verifies
// with an RSA public key.

const S = {};
const FC = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

// Every scheme `sign` supports. check(body, headers.lower, secret) verifies
// the printed headers independently: with the reference library where there
// is one, otherwise with the platform's documented algorithm (see
// signatures.test.mjs for the documentation each follows).
//   source   where the gateway has this scheme; path overrides /webhooks/<source>
//   args     extra arguments for sign/send
const SCHEMES = [
  {
    scheme: 'standard-webhooks', source: 'sw', secretScheme: 'standard-webhooks', ts: 's',
    check: (body, h, secret) => { new Webhook(secret).verify(body, h); },
  },
  {
    scheme: 'svix', source: 'svix', secretScheme: 'svix', ts: 's',
    check: (body, h, secret) => {
      assert.ok(h['svix-id'] && h['svix-timestamp'] && h['svix-signature'], 'svix-* headers');
      new SvixWebhook(secret).verify(body, h);
    },
  },
  {
    scheme: 'stripe', source: 'stripe', secretScheme: 'stripe', ts: 's',
    check: (body, h, secret) => { stripe.webhooks.constructEvent(body, h['stripe-signature'], secret); },
  },
  {
    scheme: 'github', source: 'github', secretScheme: 'github',
    check: async (body, h, secret) => {
      assert.equal(await octokitVerify(secret, body, h['x-hub-signature-256']), true, 'octokit verify');
    },
  },
  {
    scheme: 'slack', source: 'slack', ts: 's',
    check: (body, h, secret) => assert.equal(h['x-slack-signature'],
      `v0=${hmac('sha256', secret, `v0:${h['x-slack-request-timestamp']}:${body}`, 'hex')}`),
  },
  {
    scheme: 'zendesk', source: 'zendesk', ts: 'iso',
    check: (body, h, secret) => {
      const ts = h['x-zendesk-webhook-signature-timestamp'];
      assert.match(ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal(h['x-zendesk-webhook-signature'], hmac('sha256', secret, ts + body, 'base64'));
    },
  },
  {
    scheme: 'intercom', source: 'intercom',
    check: (body, h, secret) => assert.equal(h['x-hub-signature'], `sha1=${hmac('sha1', secret, body, 'hex')}`),
  },
  {
    scheme: 'hubspot', source: 'hubspot', path: '/webhooks/hubspot?x=1&at=10%3A30', ts: 'ms',
    args: ['--url', `${HUBSPOT_BASE}/webhooks/hubspot?x=1&at=10%3A30`],
    check: (body, h, secret) => {
      const ts = h['x-hubspot-request-timestamp'];
      assert.match(ts, /^\d{13}$/, 'X-HubSpot-Request-Timestamp is in milliseconds');
      const url = `${HUBSPOT_BASE}/webhooks/hubspot?x=1&at=10:30`; // %3A decoded, as HubSpot signs
      assert.equal(h['x-hubspot-signature-v3'], hmac('sha256', secret, `POST${url}${body}${ts}`, 'base64'));
    },
  },
  {
    scheme: 'helpscout', source: 'helpscout',
    check: (body, h, secret) => assert.equal(h['x-helpscout-signature'], hmac('sha1', secret, body, 'base64')),
  },
  {
    scheme: 'front', source: 'front',
    check: (body, h, secret) => {
      assert.equal(h['x-front-request-timestamp'], undefined, 'a rule webhook has no timestamp');
      assert.equal(h['x-front-signature'], hmac('sha1', secret, body, 'base64'));
    },
  },
  {
    // Front's application webhooks send X-Front-Request-Timestamp in milliseconds.
    scheme: 'front-app', source: 'front', ts: 'ms',
    check: (body, h, secret) => assert.equal(h['x-front-signature'],
      hmac('sha256', secret, `${h['x-front-request-timestamp']}:${body}`, 'base64')),
  },
  {
    scheme: 'jira', source: 'jira',
    check: (body, h, secret) => assert.equal(h['x-hub-signature'], `sha256=${hmac('sha256', secret, body, 'hex')}`),
  },
  {
    scheme: 'hmac', source: 'hmac',
    check: (body, h, secret) => assert.equal(h['x-webhook-signature'], hmac('sha256', secret, body, 'hex')),
  },
  {
    scheme: 'hmac', name: 'hmac with a template', source: 'hmac-ts', ts: 's',
    args: ['--signature-header', 'X-Sig', '--encoding', 'base64', '--signed', '{timestamp}.{body}',
      '--timestamp-header', 'X-Ts'],
    check: (body, h, secret) =>
      assert.equal(h['x-sig'], hmac('sha256', secret, `${h['x-ts']}.${body}`, 'base64')),
  },
];

const label = (s) => s.name || s.scheme;
const secretOf = (s) => S[s.source];

function gatewayConfig() {
  const q = (v) => JSON.stringify(v);
  return `listen: 127.0.0.1:0
admin: {listen: 127.0.0.1:0, token: "\${DESKHOOK_ADMIN_TOKEN}"}
store: sqlite:deskhook.db
sources:
  - {name: sw, preset: generic, auth: {standard-webhooks: {secrets: [${q(S.sw)}]}}}
  - {name: svix, preset: generic, auth: {svix: {secrets: [${q(S.svix)}]}}}
  - {name: stripe, preset: generic, auth: {stripe: {secrets: [${q(S.stripe)}]}}}
  - {name: github, preset: generic, auth: {github: {secrets: [${q(S.github)}]}}}
  - {name: slack, preset: generic, auth: {slack: {secrets: [${q(S.slack)}]}}}
  - {name: zendesk, preset: generic, auth: {zendesk: {secrets: [${q(S.zendesk)}]}}}
  - {name: intercom, preset: generic, auth: {intercom: {secrets: [${q(S.intercom)}]}}}
  - {name: hubspot, preset: generic, auth: {hubspot: {secrets: [${q(S.hubspot)}], base_url: "${HUBSPOT_BASE}"}}}
  - {name: helpscout, preset: generic, auth: {helpscout: {secrets: [${q(S.helpscout)}]}}}
  - {name: front, preset: generic, auth: {front: {secrets: [${q(S.front)}]}}}
  - {name: jira, preset: generic, auth: {jira: {secrets: [${q(S.jira)}]}}}
  - {name: hmac, preset: generic, auth: {hmac: {secrets: [${q(S.hmac)}]}}}
  - name: hmac-ts
    preset: generic
    auth: {hmac: {header: X-Sig, algorithm: sha256, encoding: base64, signed: "{timestamp}.{body}", timestamp_header: X-Ts, secrets: [${q(S['hmac-ts'])}]}}
  - {name: freshchat, preset: generic, auth: {freshchat: {public_key: "\${FC_KEY}"}}}
`;
}

describe('deskhook CLI signature commands', () => {
  let g;
  before(async () => {
    for (const s of SCHEMES) {
      if (S[s.source]) continue;
      const r = await cli(['secret', ...(s.secretScheme ? ['--scheme', s.secretScheme] : [])]);
      assert.equal(r.code, 0, show(r));
      S[s.source] = r.stdout.trim();
    }
    g = await start(gatewayConfig(), { env: { FC_KEY: FC.publicKey } });
  });
  after(() => cleanup(g));

  describe('secret', () => {
    it('default: 64 hex characters, new each time', async () => {
      const a = await cli(['secret']);
      const b = await cli(['secret']);
      for (const r of [a, b]) {
        assert.equal(r.code, 0, show(r));
        assert.match(r.stdout, /^[0-9a-f]{64}\n$/, show(r));
      }
      assert.notEqual(a.stdout, b.stdout);
    });

    it('--scheme standard-webhooks: whsec_ and base64 that the standardwebhooks package takes', async () => {
      const r = await cli(['secret', '--scheme', 'standard-webhooks']);
      assert.equal(r.code, 0, show(r));
      const secret = r.stdout.trim();
      assert.match(secret, /^whsec_[A-Za-z0-9+/]+={0,2}$/, show(r));
      const key = Buffer.from(secret.slice(6), 'base64');
      assert.equal(key.toString('base64'), secret.slice(6), 'canonical base64');
      assert.ok(key.length >= 24 && key.length <= 64, `key of ${key.length} bytes (24 to 64)`);
      const wh = new Webhook(secret); // throws on a secret it cannot decode
      const body = newBody('secret');
      const id = `msg_${nonce()}`;
      const ts = new Date();
      const headers = { 'webhook-id': id, 'webhook-timestamp': String(nowS()),
        'webhook-signature': wh.sign(id, ts, body) };
      assert.deepEqual(wh.verify(body, headers), JSON.parse(body));
    });

    it('--scheme svix and --scheme stripe: whsec_ secrets their libraries use', async () => {
      const sv = await cli(['secret', '--scheme', 'svix']);
      assert.equal(sv.code, 0, show(sv));
      assert.match(sv.stdout, /^whsec_[A-Za-z0-9+/]+={0,2}\n$/);
      assert.doesNotThrow(() => new SvixWebhook(sv.stdout.trim()));
      const st = await cli(['secret', '--scheme', 'stripe']);
      assert.equal(st.code, 0, show(st));
      assert.match(st.stdout, /^whsec_\S+\n$/);
      const secret = st.stdout.trim();
      const body = newBody('stripe secret');
      const header = stripe.webhooks.generateTestHeaderString({ payload: body, secret });
      assert.equal(stripe.webhooks.constructEvent(body, header, secret).title, JSON.parse(body).title);
    });

    it('an unknown scheme exits non-zero with a message', async () => {
      const r = await cli(['secret', '--scheme', 'no-such-scheme']);
      assert.notEqual(r.code, 0, show(r));
      assert.match(r.stderr, /no-such-scheme/, show(r));
      assert.equal(r.stdout, '');
    });
  });

  describe('sign', () => {
    for (const s of SCHEMES) {
      it(`${label(s)}: the printed headers verify independently and the gateway accepts them`, async () => {
        const body = newBody(`sign ${label(s)}`);
        const secret = secretOf(s);
        const h = await signed(['--scheme', s.scheme, '--secret', secret, ...(s.args || [])], body);
        await s.check(body, h.lower, secret);
        accepted(await g.post(s.path || `/webhooks/${s.source}`, body, { headers: h.exact }),
          `gateway, headers from deskhook sign --scheme ${label(s)}`);
        // Any other body fails the same independent check.
        await assert.rejects(async () => s.check(tamper(body), h.lower, secret),
          `${label(s)}: the check refuses a tampered body`);
      });
    }

    for (const s of SCHEMES.filter((x) => x.ts)) {
      it(`${label(s)} --timestamp: used as given; 10 minutes old is refused by library and gateway`, async () => {
        const secret = secretOf(s);
        const base = ['--scheme', s.scheme, '--secret', secret, ...(s.args || [])];
        const t = nowS() - 60;
        let body = newBody(`ts ${label(s)}`);
        let h = await signed([...base, '--timestamp', String(t)], body);
        const shown = { s: String(t), ms: String(t * 1000), any: String(t),
          iso: new Date(t * 1000).toISOString().replace('.000Z', 'Z') }[s.ts];
        assert.ok(Object.values(h.exact).some((v) => v === shown || v.includes(`t=${shown},`)),
          `the timestamp ${shown} appears in ${JSON.stringify(h.exact)}`);
        await s.check(body, h.lower, secret);
        accepted(await g.post(s.path || `/webhooks/${s.source}`, body, { headers: h.exact }),
          `${label(s)} signed 60 s ago`);

        body = newBody(`old ${label(s)}`);
        h = await signed([...base, '--timestamp', String(nowS() - 600)], body);
        if (['standard-webhooks', 'svix', 'stripe'].includes(s.scheme)) {
          assert.throws(() => s.check(body, h.lower, secret), /too old|tolerance/i,
            `${s.scheme}: the reference library refuses a 10-minute-old timestamp`);
        }
        refused(await g.post(s.path || `/webhooks/${s.source}`, body, { headers: h.exact }), 401,
          'timestamp_out_of_tolerance', `${label(s)} signed 10 minutes ago`);
      });
    }

    it('standard-webhooks --id: the message id is used', async () => {
      const body = newBody('id');
      const h = await signed(['--scheme', 'standard-webhooks', '--secret', S.sw, '--id', 'msg_fixed_1'], body);
      assert.equal(h.lower['webhook-id'], 'msg_fixed_1');
      new Webhook(S.sw).verify(body, h.lower);
    });

    it('hubspot without --url exits non-zero with a message', async () => {
      const r = await cli(['sign', '--scheme', 'hubspot', '--secret', S.hubspot], '{}');
      assert.notEqual(r.code, 0, show(r));
      assert.match(r.stderr, /--url/, show(r));
      assert.equal(r.stdout, '');
    });

    it('freshchat cannot be signed (it needs the platform\'s private key): non-zero with a message', async () => {
      const r = await cli(['sign', '--scheme', 'freshchat', '--secret', FC.publicKey], '{}');
      assert.notEqual(r.code, 0, show(r));
      assert.match(r.stderr, /freshchat/i, show(r));
      assert.match(r.stderr, /private key|only verifies/i, show(r));
      assert.equal(r.stdout, '');
    });

    it('an unknown scheme or no secret exits non-zero with a message', async () => {
      let r = await cli(['sign', '--scheme', 'no-such-scheme', '--secret', 'x'], '{}');
      assert.notEqual(r.code, 0, show(r));
      assert.match(r.stderr, /no-such-scheme/, show(r));
      r = await cli(['sign', '--scheme', 'github'], '{}');
      assert.notEqual(r.code, 0, show(r));
      assert.match(r.stderr, /secret/, show(r));
    });
  });

  describe('verify', () => {
    const verify = (scheme, secrets, headers, body, extra = []) => cli(['verify', '--scheme', scheme,
      ...[].concat(secrets).flatMap((k) => ['--secret', k]), ...extra, ...hFlags(headers)], body);

    function ok(r, what) {
      assert.equal(r.code, 0, `${what}: ${show(r)}`);
      assert.match(r.stdout, /valid/, `${what}: ${show(r)}`);
    }
    function bad(r, code, what) {
      assert.equal(r.code, 1, `${what}: ${show(r)}`);
      assert.match(r.stderr, new RegExp(code), `${what}: the reason on stderr: ${show(r)}`);
    }

    // Headers made by the reference libraries, and by the documented
    // algorithms for the platforms that publish none.
    const REF = [
      {
        scheme: 'standard-webhooks', secret: () => S.sw,
        sign: (body, secret, ts = nowS()) => {
          const id = `msg_${nonce()}`;
          return { 'webhook-id': id, 'webhook-timestamp': String(ts),
            'webhook-signature': new Webhook(secret).sign(id, new Date(ts * 1000), body) };
        },
      },
      {
        scheme: 'svix', secret: () => S.svix,
        sign: (body, secret, ts = nowS()) => {
          const id = `msg_${nonce()}`;
          return { 'svix-id': id, 'svix-timestamp': String(ts),
            'svix-signature': new SvixWebhook(secret).sign(id, new Date(ts * 1000), body) };
        },
      },
      {
        scheme: 'stripe', secret: () => S.stripe,
        sign: (body, secret, ts = nowS()) => ({
          'Stripe-Signature': stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: ts }),
        }),
      },
      {
        scheme: 'github', secret: () => S.github, noTs: true,
        sign: async (body, secret) => ({ 'X-Hub-Signature-256': await octokitSign(secret, body) }),
      },
      {
        scheme: 'slack', secret: () => S.slack,
        sign: (body, secret, ts = nowS()) => ({
          'X-Slack-Signature': `v0=${hmac('sha256', secret, `v0:${ts}:${body}`, 'hex')}`,
          'X-Slack-Request-Timestamp': String(ts),
        }),
      },
      {
        scheme: 'zendesk', secret: () => S.zendesk,
        sign: (body, secret, ts = nowS()) => {
          const iso = new Date(ts * 1000).toISOString().replace('.000Z', 'Z');
          return { 'X-Zendesk-Webhook-Signature': hmac('sha256', secret, iso + body, 'base64'),
            'X-Zendesk-Webhook-Signature-Timestamp': iso };
        },
      },
      {
        scheme: 'intercom', secret: () => S.intercom, noTs: true,
        sign: (body, secret) => ({ 'X-Hub-Signature': `sha1=${hmac('sha1', secret, body, 'hex')}` }),
      },
      {
        scheme: 'hubspot', secret: () => S.hubspot,
        extra: ['--url', `${HUBSPOT_BASE}/webhooks/hubspot?x=1&at=10%3A30`],
        sign: (body, secret, ts = nowS()) => {
          const url = `${HUBSPOT_BASE}/webhooks/hubspot?x=1&at=10:30`;
          return { 'X-HubSpot-Signature-v3': hmac('sha256', secret, `POST${url}${body}${ts * 1000}`, 'base64'),
            'X-HubSpot-Request-Timestamp': String(ts * 1000) };
        },
      },
      {
        scheme: 'helpscout', secret: () => S.helpscout, noTs: true,
        sign: (body, secret) => ({ 'X-HelpScout-Signature': hmac('sha1', secret, body, 'base64') }),
      },
      {
        scheme: 'front', name: 'front (rule webhook)', secret: () => S.front, noTs: true,
        sign: (body, secret) => ({ 'X-Front-Signature': hmac('sha1', secret, body, 'base64') }),
      },
      {
        scheme: 'front', name: 'front (application webhook, ms timestamp)', secret: () => S.front,
        sign: (body, secret, ts = nowS()) => ({
          'X-Front-Signature': hmac('sha256', secret, `${ts * 1000}:${body}`, 'base64'),
          'X-Front-Request-Timestamp': String(ts * 1000),
        }),
      },
      {
        scheme: 'jira', secret: () => S.jira, noTs: true,
        sign: (body, secret) => ({ 'X-Hub-Signature': `sha256=${hmac('sha256', secret, body, 'hex')}` }),
      },
      {
        scheme: 'freshchat', secret: () => FC.publicKey, noTs: true, noWrong: true,
        sign: (body) => ({
          'X-Freshchat-Signature': createSign('RSA-SHA256').update(body).sign(FC.privateKey, 'base64'),
        }),
      },
    ];

    for (const x of REF) {
      const name = x.name || x.scheme;
      it(`${name}: exit 0 for a valid request, 1 with the reason when tampered`, async () => {
        const body = newBody(`verify ${name}`);
        const headers = await x.sign(body, x.secret());
        ok(await verify(x.scheme, x.secret(), headers, body, x.extra), `${name} valid`);
        bad(await verify(x.scheme, x.secret(), headers, tamper(body), x.extra), 'invalid_signature',
          `${name} tampered body`);
        if (!x.noWrong) {
          const wrong = x.secret().startsWith('whsec_') ? `whsec_${randomBytes(32).toString('base64')}`
            : 'not-the-secret-0123456789';
          bad(await verify(x.scheme, wrong, headers, body, x.extra), 'invalid_signature',
            `${name} wrong secret`);
        }
        bad(await verify(x.scheme, x.secret(), {}, body, x.extra), 'missing_signature', `${name} no headers`);
        if (!x.noTs) {
          const old = await x.sign(body, x.secret(), nowS() - 600);
          bad(await verify(x.scheme, x.secret(), old, body, x.extra), 'timestamp_out_of_tolerance',
            `${name} 10 minutes old`);
        }
      });
    }

    it('rotation: two --secret, the request signed with the second: exit 0, says secret 2', async () => {
      const body = newBody('verify rotation');
      const second = `whsec_${randomBytes(32).toString('base64')}`;
      const id = `msg_${nonce()}`;
      const headers = { 'webhook-id': id, 'webhook-timestamp': String(nowS()),
        'webhook-signature': new Webhook(second).sign(id, new Date(), body) };
      const r = await verify('standard-webhooks', [S.sw, second], headers, body);
      ok(r, 'second secret');
      assert.match(r.stdout, /2/, show(r));
    });

    it('--tolerance 1m refuses a 2-minute-old stripe timestamp that the default accepts', async () => {
      const body = newBody('verify tolerance');
      const headers = { 'Stripe-Signature': stripe.webhooks.generateTestHeaderString({
        payload: body, secret: S.stripe, timestamp: nowS() - 120 }) };
      ok(await verify('stripe', S.stripe, headers, body), 'stripe 2 min old, default tolerance');
      bad(await verify('stripe', S.stripe, headers, body, ['--tolerance', '1m']), 'timestamp_out_of_tolerance',
        'stripe 2 min old, --tolerance 1m');
    });

    it('header names are matched case-insensitively', async () => {
      const body = newBody('verify case');
      const sig = await octokitSign(S.github, body);
      ok(await verify('github', S.github, { 'x-hub-signature-256': sig }, body), 'lower-case header name');
    });

    it('hubspot: signed for another URL than --url: exit 1', async () => {
      const body = newBody('verify hubspot url');
      const ts = Date.now();
      const headers = {
        'X-HubSpot-Signature-v3': hmac('sha256', S.hubspot,
          `POST${HUBSPOT_BASE}/webhooks/hubspot?x=2${body}${ts}`, 'base64'),
        'X-HubSpot-Request-Timestamp': String(ts),
      };
      bad(await verify('hubspot', S.hubspot, headers, body, ['--url', `${HUBSPOT_BASE}/webhooks/hubspot?x=1`]),
        'invalid_signature', 'hubspot other URL');
    });
  });

  describe('send', () => {
    for (const s of SCHEMES) {
      it(`${label(s)}: HTTP 200 and exit 0; a wrong secret exits 1`, async () => {
        const url = g.url + (s.path || `/webhooks/${s.source}`);
        const args = (secret) => ['send', url, '--scheme', s.scheme, '--secret', secret, ...(s.args || [])];
        let r = await cli(args(secretOf(s)), newBody(`send ${label(s)}`));
        assert.equal(r.code, 0, show(r));
        assert.match(r.stdout, /^HTTP 200\b/, show(r));
        const wrong = s.secretScheme ? (await cli(['secret', '--scheme', s.secretScheme])).stdout.trim()
          : 'not-the-secret-0123456789';
        r = await cli(args(wrong), newBody(`send wrong ${label(s)}`));
        assert.equal(r.code, 1, show(r));
        assert.match(r.stdout, /^HTTP 401\b/, show(r));
        assert.match(r.stdout, /invalid_signature/, show(r));
      });
    }

    it('a refused connection exits non-zero with a message', async () => {
      const r = await cli(['send', 'http://127.0.0.1:1/webhooks/github', '--scheme', 'github',
        '--secret', S.github], '{}');
      assert.notEqual(r.code, 0, show(r));
      assert.ok(r.stderr.length > 0, show(r));
    });

    it('freshchat cannot be sent: non-zero with a message, nothing POSTed', async () => {
      const before = await g.count({ source: 'freshchat' });
      const r = await cli(['send', `${g.url}/webhooks/freshchat`, '--scheme', 'freshchat',
        '--secret', FC.publicKey], newBody('send freshchat'));
      assert.notEqual(r.code, 0, show(r));
      assert.match(r.stderr, /freshchat/i, show(r));
      assert.equal(await g.count({ source: 'freshchat' }), before);
    });
  });

  describe('--help', () => {
    for (const cmd of ['secret', 'sign', 'verify', 'send']) {
      it(`${cmd} --help exits 0 with its usage`, async () => {
        const r = await cli([cmd, '--help']);
        assert.equal(r.code, 0, show(r));
        assert.match(r.stdout, new RegExp(`usage: deskhook ${cmd}\\b`), show(r));
      });
    }
  });
});
