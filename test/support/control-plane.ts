import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type CallOptions, type Client, credentials, type ServiceError } from '@grpc/grpc-js';
import type { ConnectionOptions } from 'nats';
import { call as apiCall, type UnaryMethod } from '../../src/client/api-client';
import pino from 'pino';
import { ClusterServiceClient } from '../../src/gen/hypervisor/v1/cluster';
import { defaultConfig, type ServerConfig } from '../../src/server/config';
import { ControlPlane } from '../../src/server/control-plane';
import { TestNats } from './nats';

export { until } from './until';

/** A real control plane on a real nats-server, on free ports, for one test file. */
export class TestControlPlane {
  readonly nats: TestNats;
  cp!: ControlPlane;
  private dir?: string;
  /** Made when first needed: a suite that builds a control plane it never starts leaves no directory. */
  get dataDir(): string {
    return (this.dir ??= mkdtempSync(path.join(os.tmpdir(), 'hv-cp-')));
  }
  private clients: Client[] = [];

  /** natsHost: where nats-server listens (NetnsHosts.rootIp for agents in namespaces; set grpcHost too). */
  constructor(
    private readonly overrides: Partial<ServerConfig> = {},
    opts: { natsHost?: string } = {},
  ) {
    this.nats = new TestNats({ host: opts.natsHost });
  }

  /** `natsUrl: undefined` among the overrides: the server starts its embedded nats-server (confined in network mode), so no TestNats. */
  private get embeddedNats(): boolean {
    return 'natsUrl' in this.overrides && this.overrides.natsUrl === undefined;
  }

  async start(): Promise<this> {
    if (!this.embeddedNats) await this.nats.start();
    await this.startServer();
    return this;
  }

  /** (Re)starts only the server process part, on the same NATS. */
  async startServer(): Promise<ControlPlane> {
    const cfg: ServerConfig = {
      ...defaultConfig(),
      natsUrl: this.embeddedNats ? undefined : this.nats.url,
      dataDir: this.dataDir,
      grpcHost: '127.0.0.1',
      grpcPort: 0,
      httpPort: 0,
      logLevel: 'silent',
      // Test image servers listen on loopback, which the image fetcher refuses unless allowed.
      imageAllowCidrs: ['127.0.0.0/8'],
      ...this.overrides,
    };
    this.cp = await new ControlPlane(cfg, pino({ level: process.env.HV_TEST_LOG ?? 'silent' })).start();
    return this.cp;
  }

  get address(): string {
    const host = this.overrides.grpcHost && this.overrides.grpcHost !== '0.0.0.0' ? this.overrides.grpcHost : '127.0.0.1';
    return `${host}:${this.cp.grpcPort}`;
  }

  /** In network mode: the local administrator's certificate (<data-dir>/pki), as hvctl on the server's host uses it. */
  get adminTls(): { ca: string; cert: string; key: string } | undefined {
    const s = this.cp.security;
    return s?.mode === 'network' ? { ca: s.pki.ca.certFile, cert: s.pki.admin.certFile, key: s.pki.admin.keyFile } : undefined;
  }

  /** hvctl's environment for this server: the administrator's certificate in network mode. */
  get hvctlTls(): Record<string, string> {
    const a = this.adminTls;
    return a ? { HVCTL_CA: a.ca, HVCTL_CERT: a.cert, HVCTL_KEY: a.key } : {};
  }

  /** How a test reaches the server's NATS: the TestNats, or the embedded one as the control plane does (TLS, system:control-plane, when confined). */
  natsOptions(): ConnectionOptions {
    return this.embeddedNats ? { servers: this.cp.natsUrl, ...this.cp.nats?.connect } : { servers: this.nats.url };
  }

  /** A client of the server: plaintext in development mode, the administrator's certificate in network mode. */
  client<C extends Client>(Ctor: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => C): C {
    const a = this.adminTls;
    const creds = a ? credentials.createSsl(readFileSync(a.ca), readFileSync(a.key), readFileSync(a.cert)) : credentials.createInsecure();
    const c = new Ctor(this.address, creds);
    this.clients.push(c);
    return c;
  }

  cluster(): ClusterServiceClient {
    return this.client(ClusterServiceClient);
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.close();
    await this.cp?.stop();
    await this.nats.stop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Calls a generated unary method as a promise (src/client), with optional headers and call options. */
export const call = <Req, Res>(client: unknown, method: UnaryMethod<Req, Res>, req: Req, headers: Record<string, string> = {}, opts: Partial<CallOptions> = {}): Promise<Res> =>
  apiCall(client, method, req, { metadata: headers, grpc: opts });

/** Asserts that a promise rejects with a gRPC status code (and message). */
export const rejectsWith = async (p: Promise<unknown>, code: number, message?: RegExp): Promise<ServiceError> => {
  try {
    await p;
  } catch (e) {
    const err = e as ServiceError;
    if (err.code !== code) throw new Error(`expected code ${code}, got ${err.code}: ${err.details}`);
    if (message && !message.test(err.details)) throw new Error(`message "${err.details}" does not match ${message}`);
    return err;
  }
  throw new Error(`expected code ${code}, but the call succeeded`);
};
