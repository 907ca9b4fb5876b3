import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Client, makeGenericClientConstructor, Server, ServerCredentials, type ServiceDefinition, type ServiceError, status } from '@grpc/grpc-js';
import { controlPlaneChannel } from '../../src/agent/control-plane-credentials';
import { type ClusterPki, ensureClusterPki } from '../../src/pki/cluster-pki';
import { IP_TARGET_SERVER_NAME, targetHost, tlsTarget } from '../../src/shared/tls-target';

const raw = (b: Buffer) => b;
const PING: ServiceDefinition = {
  ping: { path: '/test.Ping/Ping', requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
};
const PingClient = makeGenericClientConstructor(PING, 'Ping');
type Pinger = Client & { ping(req: Buffer, cb: (err: ServiceError | null, res?: Buffer) => void): void };

describe('TLS to a target given by IP address', function () {
  this.timeout(30_000);
  let dir: string;
  let pki: ClusterPki;
  let server: Server;
  let port: number;
  const names: string[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hv-tls-ip-'));
    pki = await ensureClusterPki({ dataDir: dir, sans: [] });
    server = new Server();
    server.addService(PING, { ping: (call: { request: Buffer }, cb: (e: null, r: Buffer) => void) => cb(null, call.request) });
    const creds = ServerCredentials.createSsl(Buffer.from(pki.ca.certPem), [{ private_key: Buffer.from(pki.server.keyPem), cert_chain: Buffer.from(pki.server.certPem) }], true);
    port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (e, p) => (e ? reject(e) : resolve(p))));
    // What each TLS handshake offered as its server name (SNI); grpc-js keeps its TLS servers private.
    const http2 = (server as unknown as { http2Servers: Map<import('node:tls').Server, unknown> }).http2Servers;
    for (const s of http2.keys()) s.on('secureConnection', (socket) => names.push(String((socket as unknown as { servername?: string | false }).servername)));
  });
  after(async () => {
    await new Promise<void>((r) => server.tryShutdown(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  const ping = (target: string) => {
    const { credentials, channelOptions } = controlPlaneChannel(target, { tlsCa: pki.ca.certFile, tlsCert: pki.node.certFile, tlsKey: pki.node.keyFile });
    const client = new PingClient(target, credentials, channelOptions) as unknown as Pinger;
    return new Promise<Buffer>((resolve, reject) => client.ping(Buffer.from('hi'), (e, r) => (client.close(), e ? reject(e) : resolve(r as Buffer))));
  };

  it('checks the certificate against the IP and hands TLS a host name, never the IP (no DEP0123 warning)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(w.code ?? w.message);
    process.on('warning', onWarning);
    try {
      assert.equal((await ping(`127.0.0.1:${port}`)).toString(), 'hi');
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(warnings, []);
    assert.deepEqual(names, [IP_TARGET_SERVER_NAME]);
  });

  it('refuses a server whose certificate does not hold the IP it is reached at (127.0.0.2 is not in it)', async () => {
    await assert.rejects(ping(`127.0.0.2:${port}`), (e: ServiceError) => e.code === status.UNAVAILABLE && /127\.0\.0\.2/.test(e.details));
  });

  it('leaves a host name target as it is: TLS gets the name and checks it', () => {
    assert.deepEqual(tlsTarget('cp.example.org:7000').channelOptions, {});
    assert.deepEqual(tlsTarget('[fd00::1]:7000').channelOptions, { 'grpc.ssl_target_name_override': IP_TARGET_SERVER_NAME });
    assert.deepEqual(
      ['10.0.0.1:7000', '[fd00::1]:7000', 'cp.example.org:7000', 'dns:///cp.example.org:7000', 'localhost'].map(targetHost),
      ['10.0.0.1', 'fd00::1', 'cp.example.org', 'cp.example.org', 'localhost'],
    );
  });
});
