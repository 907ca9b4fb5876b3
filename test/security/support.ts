import { readFileSync } from 'node:fs';
import https from 'node:https';
import { type Client, credentials } from '@grpc/grpc-js';
import { defaultAdvertiseIp } from '../../src/options/table';
import { issue, publicKeyOf } from '../../src/pki/cluster-ca';
import { newKey } from '../../src/pki/openssl';
import { TestControlPlane } from '../support/control-plane';
import { csrFor } from '../../src/pki/csr';
import { IdentityServiceClient } from '../../src/gen/hypervisor/iam/v1/iam';
import { call } from '../support/control-plane';

export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

/**
 * A control plane in network mode: gRPC and HTTP on every interface (so
 * beyond loopback), TLS 1.3 with client certificates from its cluster CA.
 * Clients reach it on 127.0.0.1, which its certificate names.
 */
export class NetworkLab {
  readonly t = new TestControlPlane({ grpcHost: '0.0.0.0' });
  private readonly clients: Client[] = [];

  async start(): Promise<this> {
    await this.t.start();
    return this;
  }

  get ca(): string {
    return this.t.cp.security!.pki.ca.certPem;
  }

  /** The local administrator's certificate, as the server wrote it to <data-dir>/pki. */
  get admin(): KeyPair {
    const p = this.t.cp.security!.pki.admin;
    return { cert: readFileSync(p.certFile, 'utf8'), key: readFileSync(p.keyFile, 'utf8') };
  }

  get server(): KeyPair {
    const p = this.t.cp.security!.pki.server;
    return { cert: p.certPem, key: p.keyPem };
  }

  /** A certificate of this cluster's CA for any name, valid for `days` (negative: already expired). */
  async certificate(commonName: string, days = 1): Promise<KeyPair> {
    const key = await newKey();
    const cert = await issue(this.t.cp.security!.pki.ca, { commonName, publicKeyPem: await publicKeyOf(key), days, usage: 'client' });
    return { cert, key };
  }

  /** A join token made by the administrator (ttl in seconds). */
  async joinToken(ttlSeconds = 3600): Promise<{ token: string; id: string; expiresAt?: Date }> {
    const admin = this.client(IdentityServiceClient, this.admin);
    return call(admin, admin.createJoinToken, { ttlSeconds, serverAddress: '' });
  }

  /** A host's key and certificate `node:<hostname>`, got the way an agent gets them: by joining with a token. */
  async joinedNode(hostname: string): Promise<KeyPair> {
    const key = await newKey();
    const anyone = this.client(IdentityServiceClient);
    const r = await call(anyone, anyone.joinNode, { token: (await this.joinToken()).token, hostname, csrPem: await csrFor(key, `node:${hostname}`) });
    return { cert: r.certificatePem, key };
  }

  get target(): string {
    return `localhost:${this.t.cp.grpcPort}`;
  }

  /** A client presenting `pair` (none: no client certificate), trusting the cluster CA. */
  client<C extends Client>(Ctor: new (address: string, creds: ReturnType<typeof credentials.createSsl>) => C, pair?: KeyPair, ca = this.ca): C {
    const creds = pair ? credentials.createSsl(Buffer.from(ca), Buffer.from(pair.key), Buffer.from(pair.cert)) : credentials.createSsl(Buffer.from(ca));
    const c = new Ctor(this.target, creds);
    this.clients.push(c);
    return c;
  }

  /** A plaintext client, as in development mode. */
  plaintext<C extends Client>(Ctor: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => C): C {
    const c = new Ctor(this.target, credentials.createInsecure());
    this.clients.push(c);
    return c;
  }

  /** An HTTPS request to the HTTP port, from loopback or from this host's other address. */
  http(
    method: string,
    pathname: string,
    o: { pair?: KeyPair; from?: 'loopback' | 'network'; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
    const host = o.from === 'network' ? defaultAdvertiseIp() : '127.0.0.1';
    return new Promise((resolve, reject) => {
      const req = https.request(
        { method, host, port: this.t.cp.httpPort, path: pathname, ca: this.ca, servername: 'localhost', ...(o.pair ? { cert: o.pair.cert, key: o.pair.key } : {}), headers: o.headers },
        (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  get(pathname: string, o: { pair?: KeyPair; from?: 'loopback' | 'network'; headers?: Record<string, string> } = {}) {
    return this.http('GET', pathname, o);
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.close();
    await this.t.stop();
  }
}
