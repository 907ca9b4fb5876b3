import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { type Client, credentials } from '@grpc/grpc-js';
import { ServerProcess } from './server-process';

/**
 * A server replica in network mode as a child process: gRPC beyond loopback
 * (so TLS with client certificates), its console on 127.0.0.1 over TLS, its
 * PKI in `<dataDir>/pki` issued by `caDir`'s CA (the first replica's, so all
 * replicas are of one cluster).
 */
export class NetworkReplica extends ServerProcess {
  /** The cluster CA's certificate. */
  readonly caFile: string;

  constructor(
    natsUrl: string,
    readonly dataDir: string,
    caDir: string | undefined,
    extraArgs: string[] = [],
  ) {
    super(natsUrl, [
      '--grpc-host', '0.0.0.0',
      '--http-host', '127.0.0.1',
      '--data-dir', dataDir,
      ...(caDir ? ['--tls-ca-cert', path.join(caDir, 'ca.crt'), '--tls-ca-key', path.join(caDir, 'ca.key')] : []),
      ...extraArgs,
    ]);
    this.caFile = path.join(caDir ?? path.join(dataDir, 'pki'), 'ca.crt');
  }

  get pkiDir(): string {
    return path.join(this.dataDir, 'pki');
  }

  get console(): string {
    return `127.0.0.1:${this.httpPort}`;
  }

  /** A gRPC client of this replica as its local administrator (the certificate it wrote to <data-dir>/pki). */
  admin<C extends Client>(Ctor: new (address: string, creds: ReturnType<typeof credentials.createSsl>) => C): C {
    const f = (n: string) => readFileSync(path.join(this.pkiDir, n));
    return new Ctor(`localhost:${this.grpcPort}`, credentials.createSsl(readFileSync(this.caFile), f('admin.key'), f('admin.crt')));
  }

  protected override ready(): Promise<boolean> {
    return new Promise((resolve) => {
      let ca: Buffer;
      try {
        ca = readFileSync(this.caFile);
      } catch {
        return resolve(false);
      }
      https
        .get({ host: '127.0.0.1', port: this.httpPort, path: '/readyz', ca, servername: 'localhost' }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        })
        .on('error', () => resolve(false));
    });
  }
}
