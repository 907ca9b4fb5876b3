import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type CallOptions, type ChannelCredentials, type ChannelOptions, type Client, credentials, type ServiceError } from '@grpc/grpc-js';
import { type ConnectionOptions, connect, type NatsConnection } from 'nats';
import { call as apiCall, type UnaryMethod } from '../../src/client/api-client';
import pino from 'pino';
import { IdentityServiceClient } from '../../src/gen/hypervisor/iam/v1/iam';
import { ClusterServiceClient } from '../../src/gen/hypervisor/v1/cluster';
import { csrFor } from '../../src/pki/csr';
import { newKey } from '../../src/pki/openssl';
import { defaultConfig, type ServerConfig } from '../../src/server/config';
import { ControlPlane } from '../../src/server/control-plane';
import { tlsTarget } from '../../src/shared/tls-target';
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

  private readonly overrides: Partial<ServerConfig>;
  private natsConns: NatsConnection[] = [];

  /**
   * natsHost: where nats-server listens (NetnsHosts.rootIp for agents in namespaces; set grpcHost too).
   * network: network mode as a server beyond loopback runs (gRPC with mutual TLS on every interface, the embedded
   * NATS confined on loopback); startAgent then joins its agents with tokens, and joinToken() makes one for others.
   */
  constructor(overrides: Partial<ServerConfig> = {}, opts: { natsHost?: string; network?: boolean } = {}) {
    this.overrides = opts.network ? { grpcHost: '0.0.0.0', natsUrl: undefined, natsListen: '127.0.0.1:0', ...overrides } : overrides;
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
    const s = this.cp?.security;
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

  /** The NATS URL agents are given: the server's (tls://…) when it runs its own, else the TestNats. */
  get agentNatsUrl(): string {
    return this.embeddedNats ? this.cp.nats!.agentUrl : this.nats.url;
  }

  /** In network mode a single-use join token for one agent (made by the administrator); undefined in development mode. */
  async joinToken(ttlSeconds = 600): Promise<string | undefined> {
    if (!this.adminTls) return undefined;
    const identity = this.client(IdentityServiceClient);
    return (await call(identity, identity.createJoinToken, { ttlSeconds, serverAddress: '' })).token;
  }

  /** The environment that makes an agent process join (HV_JOIN_TOKEN) in network mode; empty in development mode. */
  async joinEnv(): Promise<Record<string, string>> {
    const token = await this.joinToken();
    return token ? { HV_JOIN_TOKEN: token } : {};
  }

  /** A connection to the server's NATS with the rights the control plane has (closed by stop()). */
  async connectNats(): Promise<NatsConnection> {
    if (!this.embeddedNats) return this.nats.connect();
    const nc = await connect({ ...this.natsOptions(), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    this.natsConns.push(nc);
    return nc;
  }

  /** The administrator's channel credentials in network mode (for a channel to `address`), plaintext in development mode. */
  credentials(address = this.address): ChannelCredentials {
    const a = this.adminTls;
    return a ? credentials.createSsl(readFileSync(a.ca), readFileSync(a.key), readFileSync(a.cert), this.tlsFor(address).verify) : credentials.createInsecure();
  }

  /**
   * The options a channel to `address` needs beside credentials(address): an IP address is
   * no TLS server name (Node 26 refuses it), so it is named as our own clients name it.
   */
  channelOptions(address = this.address): ChannelOptions {
    return this.tlsFor(address).options;
  }

  /** How a TLS channel to an address names and checks it, as our own clients do (src/shared/tls-target.ts). */
  private tlsFor(address: string): { verify: { checkServerIdentity: ReturnType<typeof tlsTarget>['checkServerIdentity'] }; options: ChannelOptions } {
    const t = tlsTarget(address);
    return { verify: { checkServerIdentity: t.checkServerIdentity }, options: this.adminTls ? t.channelOptions : {} };
  }

  /** A client of the AgentService of the agent `node:<hostname>` at `address`, as the server reaches it (system:control-plane in network mode). */
  agentClient<C extends Client>(Ctor: new (address: string, creds: ChannelCredentials, options?: ChannelOptions) => C, address: string, hostname: string): C {
    const pki = this.adminTls && this.cp.security!.pki;
    const expected = `node:${hostname}`;
    // An IP address is no TLS server name (Node 26 refuses it): named as our own clients name it.
    const target = tlsTarget(address, (_host, cert) => (cert.subject?.CN === expected ? undefined : new Error(`the agent at ${address} is ${cert.subject?.CN}, not ${expected}`)));
    const c = pki
      ? new Ctor(address, credentials.createSsl(Buffer.from(pki.ca.certPem), Buffer.from(pki.controlPlane.keyPem), Buffer.from(pki.controlPlane.certPem), { checkServerIdentity: target.checkServerIdentity }), target.channelOptions)
      : new Ctor(address, credentials.createInsecure());
    this.clients.push(c);
    return c;
  }

  /** A client of the server: plaintext in development mode, the administrator's certificate in network mode. */
  client<C extends Client>(Ctor: new (address: string, creds: ChannelCredentials, options?: ChannelOptions) => C, address = this.address): C {
    const c = new Ctor(address, this.credentials(address), this.channelOptions(address));
    this.clients.push(c);
    return c;
  }

  /**
   * A client acting as the host `hostname` with no agent behind it (a node the test registers itself): in network
   * mode it joins with a token as an agent does (its own key, a CSR) and calls as `node:<hostname>`; in development
   * mode a plain client, as every caller there.
   */
  async nodeClient<C extends Client>(Ctor: new (address: string, creds: ChannelCredentials, options?: ChannelOptions) => C, hostname: string): Promise<C> {
    const a = this.adminTls;
    if (!a) return this.client(Ctor);
    const ca = readFileSync(a.ca);
    const key = await newKey();
    const anyone = new IdentityServiceClient(this.address, credentials.createSsl(ca, null, null, this.tlsFor(this.address).verify), this.channelOptions());
    this.clients.push(anyone);
    const token = (await this.joinToken())!;
    const joined = await call(anyone, anyone.joinNode, { token, hostname, csrPem: await csrFor(key, `node:${hostname}`) });
    const c = new Ctor(this.address, credentials.createSsl(ca, Buffer.from(key), Buffer.from(joined.certificatePem), this.tlsFor(this.address).verify), this.channelOptions());
    this.clients.push(c);
    return c;
  }

  cluster(): ClusterServiceClient {
    return this.client(ClusterServiceClient);
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.close();
    await Promise.all(this.natsConns.map((c) => c.close().catch(() => undefined)));
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
