import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { certificateFacts, dueForRenewal } from '../../src/pki/certificate';
import { ensureClusterPki } from '../../src/pki/cluster-pki';
import { ensurePair } from '../../src/pki/key-pair';
import { openssl } from '../../src/pki/openssl';

const mode = (f: string) => statSync(f).mode & 0o777;

describe('cluster PKI (<data-dir>/pki)', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'hv-pki-test-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('makes a CA, a server certificate with the names asked for and an admin certificate, keys 0600', async () => {
    const pki = await ensureClusterPki({ dataDir: dir, sans: ['10.1.2.3', 'cp.example.org', '0.0.0.0'] });
    for (const f of ['ca.key', 'server.key', 'admin.key']) assert.equal(mode(path.join(dir, 'pki', f)), 0o600, f);
    const ca = new X509Certificate(readFileSync(path.join(dir, 'pki', 'ca.crt')));
    assert.equal(ca.ca, true);
    const server = new X509Certificate(pki.server.certPem);
    assert.ok(server.checkIssued(ca) && server.verify(ca.publicKey));
    for (const n of ['DNS:localhost', 'IP Address:127.0.0.1', `DNS:${os.hostname()}`, 'IP Address:10.1.2.3', 'DNS:cp.example.org'])
      assert.ok(server.subjectAltName?.split(', ').includes(n), `${n} in ${server.subjectAltName}`);
    assert.ok(!server.subjectAltName?.includes('0.0.0.0'), 'a wildcard listen address is no name');
    const admin = new X509Certificate(pki.admin.certPem);
    assert.equal(certificateFacts(pki.admin.certPem).commonName, 'local:admin');
    assert.ok(admin.checkIssued(ca));
    // openssl agrees on what each is for: the server's is no client certificate, the admin's no server one.
    await assert.rejects(openssl(['verify', '-CAfile', pki.ca.certFile, '-purpose', 'sslclient', pki.server.certFile]));
    await openssl(['verify', '-CAfile', pki.ca.certFile, '-purpose', 'sslclient', pki.admin.certFile]);
  });

  it('keeps what it made on the next start, and renews the server certificate when a third of its life is left', async () => {
    const first = await ensureClusterPki({ dataDir: dir, sans: [] });
    const again = await ensureClusterPki({ dataDir: dir, sans: [] });
    assert.equal(again.ca.certPem, first.ca.certPem);
    assert.equal(again.server.facts.serial, first.server.facts.serial);
    assert.equal(again.server.issued, undefined);
    const f = first.server.facts;
    const late = new Date(f.notAfter.getTime() - (f.notAfter.getTime() - f.notBefore.getTime()) / 4);
    assert.equal(dueForRenewal(f, late), true);
    const renewed = await ensurePair(first.ca, first.server, { commonName: 'hypervisor-server', usage: 'server', days: 365 }, late);
    assert.equal(renewed.issued, 'renewal');
    assert.notEqual(renewed.facts.serial, f.serial);
    assert.equal(renewed.keyPem, first.server.keyPem, 'the key is kept across a renewal');
  });

  it("uses the operator's own CA, leaving its key where it is", async () => {
    const own = await ensureClusterPki({ dataDir: path.join(dir, 'other'), sans: [] });
    const pki = await ensureClusterPki({ dataDir: dir, caCertFile: own.ca.certFile, caKeyFile: own.ca.keyFile, sans: [] });
    assert.equal(pki.ca.keyFile, own.ca.keyFile);
    assert.ok(new X509Certificate(pki.server.certPem).checkIssued(new X509Certificate(own.ca.certPem)));
    await assert.rejects(() => ensureClusterPki({ dataDir: dir, caCertFile: own.ca.certFile, sans: [] }), /go together/);
  });

  it('a server certificate of another CA is issued anew', async () => {
    await ensureClusterPki({ dataDir: dir, sans: [] });
    rmSync(path.join(dir, 'pki', 'ca.crt'));
    rmSync(path.join(dir, 'pki', 'ca.key'));
    const pki = await ensureClusterPki({ dataDir: dir, sans: [] });
    assert.equal(pki.server.issued, 'other-ca');
    assert.equal(pki.admin.issued, 'other-ca');
  });

  it('servers starting together on one data dir end up with one CA and matching keys', async () => {
    const all = await Promise.all([1, 2, 3, 4].map(() => ensureClusterPki({ dataDir: dir, sans: [] })));
    const onDisk = readFileSync(path.join(dir, 'pki', 'ca.crt'), 'utf8');
    for (const p of all) assert.equal(p.ca.certPem, onDisk);
    const key = readFileSync(path.join(dir, 'pki', 'server.key'), 'utf8');
    const cert = new X509Certificate(readFileSync(path.join(dir, 'pki', 'server.crt')));
    assert.ok(cert.checkPrivateKey(createPrivateKey(key)), 'the server certificate on disk is for the key on disk');
    assert.ok(cert.verify(new X509Certificate(onDisk).publicKey));
  });
});
