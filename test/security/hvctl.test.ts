import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hvctl, isolatedEnv } from '../support/hvctl';
import { NetworkLab } from './support';

describe('hvctl against a server in network mode', function () {
  this.timeout(120_000);
  const lab = new NetworkLab();
  const out = mkdtempSync(path.join(os.tmpdir(), 'hvctl-users-'));
  let server: string;
  let adminFlags: string[];
  before(async () => {
    await lab.start();
    server = `127.0.0.1:${lab.t.cp.grpcPort}`;
    const pki = lab.t.cp.security!.pki;
    adminFlags = ['--server', server, '--ca', pki.ca.certFile, '--cert', pki.admin.certFile, '--key', pki.admin.keyFile];
  });
  after(async () => {
    await lab.stop();
    rmSync(out, { recursive: true, force: true });
  });

  const json = (r: { code: number; stdout: string; stderr: string }) => {
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  it('with --ca/--cert/--key, and on the server host with nothing at all (its admin certificate)', async () => {
    assert.equal(json(await hvctl([...adminFlags, 'whoami', '-o', 'json'])).identity, 'local:admin');
    const onHost = json(await hvctl(['--server', server, 'whoami', '-o', 'json'], { env: isolatedEnv({ HV_DATA_DIR: lab.t.dataDir }) }));
    assert.deepEqual([onHost.identity, onHost.mode], ['local:admin', 'network']);
    // Another host (no data dir with the marker): plaintext, which the server refuses.
    const elsewhere = await hvctl(['--server', server, 'whoami'], { env: isolatedEnv({ HV_DATA_DIR: out }) });
    assert.equal(elsewhere.code, 14, elsewhere.stderr);
  });

  it('user create writes the certificate, its key (0600) and the CA, and prints the context to use them', async () => {
    const cfg = isolatedEnv();
    const r = await hvctl([...adminFlags, 'user', 'create', 'alice', '--role', 'operator', '--tenant', 'acme', '--out', out], { env: cfg });
    assert.equal(r.code, 0, r.stderr);
    for (const f of ['alice.crt', 'alice.key', 'ca.crt']) assert.ok(existsSync(path.join(out, f)), f);
    assert.equal(statSync(path.join(out, 'alice.key')).mode & 0o777, 0o600);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /^hvctl config set-context alice --server 127\.0\.0\.1:\d+ --ca \S+ca\.crt --cert \S+alice\.crt --key \S+alice\.key$/);
    assert.equal(lines[1], 'hvctl config use-context alice');
    for (const l of lines) assert.equal((await hvctl(l.split(' ').slice(1), { env: cfg })).code, 0, l);
    const me = json(await hvctl(['whoami', '-o', 'json'], { env: cfg }));
    assert.deepEqual([me.identity, me.role, me.tenant], ['user:alice', 'ROLE_OPERATOR', 'acme']);
    // The same files through the environment.
    const byEnv = isolatedEnv({ HVCTL_CA: path.join(out, 'ca.crt'), HVCTL_CERT: path.join(out, 'alice.crt'), HVCTL_KEY: path.join(out, 'alice.key') });
    assert.equal(json(await hvctl(['--server', server, 'whoami', '-o', 'json'], { env: byEnv })).identity, 'user:alice');
  });

  it('user list, get, set-role, revoke and delete; a revoked certificate no longer gets in', async () => {
    const cfg = isolatedEnv();
    assert.equal((await hvctl([...adminFlags, 'user', 'create', 'bert', '--role', 'viewer', '--out', out])).code, 0);
    const bert = ['--server', server, '--ca', path.join(out, 'ca.crt'), '--cert', path.join(out, 'bert.crt'), '--key', path.join(out, 'bert.key')];
    const listed = json(await hvctl([...adminFlags, 'user', 'list', '-o', 'json']));
    assert.ok(listed.some((u: { name: string }) => u.name === 'bert'));
    assert.equal(json(await hvctl([...adminFlags, 'user', 'set-role', 'bert', 'admin', '-o', 'json'])).role, 'ROLE_ADMIN');
    assert.equal(json(await hvctl([...bert, 'whoami', '-o', 'json'], { env: cfg })).role, 'ROLE_ADMIN');
    const serial = json(await hvctl([...adminFlags, 'user', 'get', 'bert', '-o', 'json'])).certificates[0].serial;
    assert.equal((await hvctl([...adminFlags, 'user', 'revoke', 'bert', serial])).code, 0);
    const refused = await hvctl([...bert, 'whoami'], { env: cfg });
    assert.equal(refused.code, 16, refused.stderr);
    assert.match(refused.stderr, /UNAUTHENTICATED.*revoked/);
    assert.equal((await hvctl([...adminFlags, 'user', 'delete', 'bert'])).code, 0);
    assert.equal((await hvctl([...adminFlags, 'user', 'get', 'bert'])).code, 5);
  });

  it('ui login prints a one-time https URL', async () => {
    const r = await hvctl([...adminFlags, 'ui', 'login']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^https:\/\/[^/]+:\d+\/ui\/login\?token=[A-Za-z0-9_-]{43}$/);
  });
});
