// `deskhook check`, environment substitution, refusal of empty secrets,
// `version` and `--help`.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { run, start, cleanup, tempDir, standardConfig, nonce, ADMIN_TOKEN } from './lib/gateway.mjs';

// The configuration example of the interface description, verbatim.
const EXAMPLE = `listen: 127.0.0.1:8080
admin: {listen: 127.0.0.1:8081, token: "\${DESKHOOK_ADMIN_TOKEN}"}
store: sqlite:deskhook.db
dedupe_window: 24h
log: {level: info, access: true}
sources:
  - name: freshdesk                 # POST /webhooks/freshdesk and /webhooks/freshdesk/{event-type}
    preset: freshdesk
    paths: [/webhook/freshdesk]      # extra mounts
    default_event: ticket.created
    max_body: 1MiB
    auth:
      hmac: {header: X-Webhook-Signature, algorithm: sha256, encoding: hex, secrets: ["\${FD_SECRET}"]}
    dedupe_window: 60s
    rate_limit: 100/60s              # optional per-source token bucket
    required: [ticket.subject]       # optional extra required fields
  - name: custom
    preset: generic
    auth: {bearer: {tokens: ["\${CUSTOM_TOKEN}"]}}
  - name: testing
    auth: none
`;

const UNSET = 'DH_E2E_SURELY_UNSET_VAR';

// Five problems; the comment after each line is its line number.
const PROBLEMS = [
  'listen: 127.0.0.1:8080', // 1
  'admin: {listen: 127.0.0.1:8081, token: "${DESKHOOK_ADMIN_TOKEN}"}', // 2
  'store: sqlite:deskhook.db', // 3
  'dedupe_window: 24h', // 4
  'bogus_key: true', // 5  unknown key
  'sources:', // 6
  '  - name: fd', // 7
  '    preset: freshdesk', // 8
  '    dedupe_window: 60', // 9  bare number
  '    auth:', // 10
  `      hmac: {header: X-Webhook-Signature, algorithm: sha256, encoding: hex, secrets: ["\${${UNSET}}"]}`, // 11
  '  - name: noauth', // 12  no auth
  '    preset: generic', // 13
  '  - name: weird', // 14
  '    preset: nosuchpreset', // 15  unknown preset
  '    auth: none', // 16
  '',
].join('\n');

function writeConfig(dir, name, text) {
  const p = `${dir}/${name}`;
  fs.writeFileSync(p, text);
  return p;
}

// Lines of the form FILE:LINE: message whose FILE is the config file.
function diagnostics(stderr, file) {
  const out = [];
  for (const line of stderr.split('\n')) {
    const m = /^(.+?):(\d+): (.+)$/.exec(line);
    if (m && (m[1] === file || m[1].endsWith(`/${file.split('/').pop()}`) || m[1] === file.split('/').pop())) {
      out.push({ line: Number(m[2]), message: m[3] });
    }
  }
  return out;
}

function serveOnce(configPath, dir, env) {
  return run(['serve', '-c', configPath, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0',
    '--store', `sqlite:${dir}/deskhook.db`], { env, cwd: dir, timeout: 10000 });
}

describe('deskhook check', () => {
  const dir = tempDir();

  it('exits 0 on a valid file', () => {
    const p = writeConfig(dir, 'example.yaml', EXAMPLE);
    const r = run(['check', '-c', p], { cwd: dir });
    assert.equal(r.code, 0, `check on the example: ${r.code}\n${r.stderr}${r.stdout}`);
    const p2 = writeConfig(dir, 'standard.yaml', standardConfig());
    const r2 = run(['check', '-c', p2], { cwd: dir });
    assert.equal(r2.code, 0, `check on the test config: ${r2.code}\n${r2.stderr}${r2.stdout}`);
  });

  it('exits 1 and reports every problem as FILE:LINE: message', () => {
    const p = writeConfig(dir, 'problems.yaml', PROBLEMS);
    assert.equal(process.env[UNSET], undefined);
    const r = run(['check', '-c', p], { cwd: dir });
    assert.equal(r.code, 1, `exit code\n${r.stderr}`);
    const diags = diagnostics(r.stderr, p);
    const expect = [
      { lines: [5], re: /bogus_key/, what: 'unknown key' },
      { lines: [9], re: /dedupe_window|unit|duration/i, what: 'bare number duration' },
      { lines: [11], re: new RegExp(UNSET), what: 'unset ${VAR}' },
      { lines: [12, 13], re: /auth/i, what: 'missing auth' },
      { lines: [15], re: /nosuchpreset/, what: 'unknown preset' },
    ];
    for (const e of expect) {
      const hit = diags.find((d) => e.lines.includes(d.line) && e.re.test(d.message));
      assert.ok(hit, `${e.what}: expected ${p.split('/').pop()}:${e.lines.join('|')}: …${e.re}… in stderr:\n${r.stderr}`);
    }
  });

  it('endpoints are checked: every bad key of every endpoint, with its line', () => {
    const p = writeConfig(dir, 'endpoints.yaml', `listen: 127.0.0.1:8080
admin: {listen: 127.0.0.1:8081, token: "t"}
sources:
  - name: testing
    auth: none
endpoints:
  - name: crm
    url: ftp://crm.example.com/hook
    timeout: soon
  - name: chat
    url: https://chat.example.com/hook
    secrets: [not-a-whsec]
  - name: crm
    url: https://other.example.com/hook
    signing: none
`);
    const r = run(['check', '-c', p], { cwd: dir });
    assert.equal(r.code, 1, r.stderr);
    const diags = diagnostics(r.stderr, p);
    const expect = [
      { line: 7, re: /crm.*url/ }, { line: 7, re: /crm.*timeout/ },
      { line: 10, re: /chat.*secrets.*whsec_/ }, { line: 13, re: /"crm" is defined twice/ },
    ];
    for (const e of expect) {
      assert.ok(diags.some((d) => d.line === e.line && e.re.test(d.message)), `${e.re} at line ${e.line}:\n${r.stderr}`);
    }
    const good = writeConfig(dir, 'endpoints-ok.yaml', `listen: 127.0.0.1:8080
admin: {listen: 127.0.0.1:8081, token: "t"}
sources:
  - name: testing
    auth: none
endpoints:
  - name: crm
    url: https://crm.example.com/hook
    signing: hex
    secrets: [s3cret]
`);
    const ok = run(['check', '-c', good], { cwd: dir });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /1 endpoint\b/);
  });

  it('a YAML syntax error is reported with its line', () => {
    const p = writeConfig(dir, 'syntax.yaml', 'listen: 127.0.0.1:8080\nstore: sqlite:x.db\nadmin: listen: oops\n');
    const r = run(['check', '-c', p], { cwd: dir });
    assert.equal(r.code, 1, r.stderr);
    assert.ok(diagnostics(r.stderr, p).some((d) => d.line === 3), `line 3 reported:\n${r.stderr}`);
  });

  it('a missing file is an error', () => {
    const r = run(['check', '-c', `${dir}/does-not-exist.yaml`], { cwd: dir });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /does-not-exist\.yaml/);
  });

  it('an empty secret, token or admin token is refused', () => {
    const p = writeConfig(dir, 'empty.yaml', standardConfig());
    for (const v of ['DESKHOOK_ADMIN_TOKEN', 'FD_SECRET', 'CUSTOM_TOKEN']) {
      const r = run(['check', '-c', p], { cwd: dir, env: { [v]: '' } });
      assert.equal(r.code, 1, `check with ${v}="" should fail:\n${r.stderr}`);
      assert.ok(diagnostics(r.stderr, p).length > 0, `${v}="": a FILE:LINE diagnostic\n${r.stderr}`);
    }
    const literal = writeConfig(dir, 'literal.yaml', standardConfig().replace('"${CUSTOM_TOKEN}"', '""'));
    const r = run(['check', '-c', literal], { cwd: dir });
    assert.equal(r.code, 1, `literal empty bearer token:\n${r.stderr}`);
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));
});

describe('environment substitution', () => {
  let g;
  after(() => cleanup(g));

  it('${VAR:-default} takes the default when unset and the value when set', async () => {
    const cfg = standardConfig()
      .replace('"${DESKHOOK_ADMIN_TOKEN}"', '"${DH_E2E_ADMIN_UNSET:-s3cret-default}"')
      .replace('"${FD_SECRET}"', '"${DH_E2E_FD_SET:-fd-fallback}"');
    g = await start(cfg, { env: { DH_E2E_FD_SET: 'fd-from-env' } });
    let r = await g.admin('/api/events', { token: 's3cret-default' });
    assert.equal(r.status, 200, `default admin token: ${r.text}`);
    r = await g.admin('/api/events', { token: ADMIN_TOKEN });
    assert.equal(r.status, 401, 'the unused variable is not the token');
    const body = JSON.stringify({ freshdesk_webhook: { ticket_id: 1, ticket_subject: 's', n: nonce() } });
    r = await g.post('/webhooks/freshdesk', body, { secret: 'fd-from-env' });
    assert.equal(r.status, 200, `secret from the environment: ${r.text}`);
    r = await g.post('/webhooks/freshdesk', body, { secret: 'fd-fallback' });
    assert.equal(r.status, 401, 'the default is not used when the variable is set');
  });

  it('serve refuses an empty admin token, at once and clearly', () => {
    const dir = tempDir();
    const p = writeConfig(dir, 'deskhook.yaml', standardConfig());
    const r = serveOnce(p, dir, { DESKHOOK_ADMIN_TOKEN: '' });
    assert.equal(r.signal, null, `serve should exit by itself, not run (stderr: ${r.stderr})`);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /token/i, 'the message mentions the token');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serve refuses an unset variable and names it', () => {
    const dir = tempDir();
    const p = writeConfig(dir, 'deskhook.yaml', standardConfig().replace('${CUSTOM_TOKEN}', '${DH_E2E_NOT_SET_EITHER}'));
    const r = serveOnce(p, dir, {});
    assert.equal(r.signal, null, `serve should exit by itself (stderr: ${r.stderr})`);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /DH_E2E_NOT_SET_EITHER/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('version and --help', () => {
  it('version prints the version', () => {
    const r = run(['version']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\d+\.\d+\.\d+/);
  });

  for (const args of [['--help'], ['serve', '--help'], ['check', '--help'], ['version', '--help']]) {
    it(`${args.join(' ')} exits 0 and prints usage`, () => {
      const r = run(args, { timeout: 5000 });
      assert.equal(r.signal, null, `${args.join(' ')} must not start anything`);
      assert.equal(r.code, 0, r.stderr);
      assert.ok((r.stdout + r.stderr).trim().length > 0, 'prints something');
      if (args[0] !== '--help') assert.match(r.stdout + r.stderr, new RegExp(args[0]), 'mentions the command');
    });
  }

  it('an unknown command fails', () => {
    const r = run(['no-such-command']);
    assert.notEqual(r.code, 0);
  });
});
