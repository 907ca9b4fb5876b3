import assert from 'node:assert/strict';
import pino from 'pino';
import type { ClusterPki } from '../pki/cluster-pki';
import { givenNats } from './nats-start';

const pem = (what: string) => ({ certPem: `${what}.crt`, keyPem: `${what}.key` });
const pki = { ca: pem('ca'), controlPlane: pem('control-plane') } as unknown as ClusterPki;
const log = pino({ level: 'silent' });

describe('a NATS this server did not start (--nats-url)', () => {
  it('tls:// in network mode: a confined NATS, reached as system:control-plane with its certificate, whose nodes\' consumers this server makes; agents are told the tls:// URLs', () => {
    const n = givenNats('tls://a:4222,tls://b:4222', { mode: 'network', pki }, log);
    assert.equal(n.url, 'nats://a:4222,nats://b:4222');
    assert.equal(n.agentUrl, 'tls://a:4222,tls://b:4222');
    assert.deepEqual(n.connect, { tls: { ca: 'ca.crt', cert: 'control-plane.crt', key: 'control-plane.key' } });
    // Joined nodes' consumers are made here; the authorization is the operator's: no file of ours.
    assert.equal(n.confined?.file, undefined);
    assert.ok(n.confined);
    assert.equal(n.embedded, undefined);
  });

  it('nats:// in network mode, or any URL in development mode: plain, as given', () => {
    for (const [url, mode] of [['nats://a:4222', 'network'], ['nats://a:4222', 'development']] as const) {
      const n = givenNats(url, { mode, pki }, log);
      assert.deepEqual(n, { url, agentUrl: url, connect: {} });
    }
  });
});
