import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection, StorageType } from 'nats';
import { freePorts } from '../../src/nats/embedded-nats-server';
import { until } from './until';

/** Where one member listens, and how its process is started (inside a network namespace or not). */
export interface MemberPlace {
  readonly host: string;
  /** argv wrapper (NetnsHost.wrap): runs the nats-server in that host's namespace. */
  readonly wrap?: (argv: readonly string[]) => string[];
}

/** One nats-server of the cluster; it keeps its store across kill -9 and restart. */
export class ClusterMember {
  child?: ChildProcess;
  log = '';

  constructor(
    readonly name: string,
    readonly place: MemberPlace,
    readonly clientPort: number,
    readonly routePort: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `nats://${this.place.host}:${this.clientPort}`;
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  writeConfig(routes: readonly string[]): string {
    mkdirSync(path.join(this.dir, 'jetstream'), { recursive: true });
    const conf = path.join(this.dir, 'nats.conf');
    writeFileSync(
      conf,
      [
        `server_name: ${this.name}`,
        `listen: "${this.place.host}:${this.clientPort}"`,
        `jetstream { store_dir: "${path.join(this.dir, 'jetstream')}" }`,
        `cluster {`,
        `  name: hv`,
        `  listen: "${this.place.host}:${this.routePort}"`,
        `  routes: [${routes.map((r) => `"${r}"`).join(', ')}]`,
        `}`,
        '',
      ].join('\n'),
    );
    return conf;
  }

  start(routes: readonly string[]): void {
    const argv = ['nats-server', '-c', this.writeConfig(routes)];
    const [cmd, ...args] = this.place.wrap ? this.place.wrap(argv) : argv;
    this.log = '';
    const child = (this.child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] }));
    child.stderr!.on('data', (d: Buffer) => {
      this.log = (this.log + d.toString()).slice(-16_384);
    });
  }

  /** kill -9: no goodbye to the cluster. */
  kill9(): void {
    this.child?.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  }
}

/**
 * Three (or n) clustered nats-servers with JetStream, each with its own ports
 * and store: on loopback (ports of their own), or each in a network namespace
 * of a NetnsHosts lab (its address, so a partition is a link cut).
 */
export class TestNatsCluster {
  readonly members: ClusterMember[] = [];
  private readonly conns: NatsConnection[] = [];

  private constructor(readonly dir: string) {}

  /**
   * `running`: how many of the members to start now (the first ones); the others join when `restart` starts them.
   * Ports picked on loopback were free a moment ago: a member that finds its port taken meanwhile (by an outgoing
   * connection's ephemeral port, a parallel test) fails the start, which is then made again on other ports.
   */
  static async start(places: readonly MemberPlace[] = [{ host: '127.0.0.1' }, { host: '127.0.0.1' }, { host: '127.0.0.1' }], o: { running?: number } = {}): Promise<TestNatsCluster> {
    for (let attempt = 1; ; attempt++) {
      const c = new TestNatsCluster(mkdtempSync(path.join(os.tmpdir(), 'hv-natsc-')));
      try {
        for (let i = 0; i < places.length; i++) {
          const shared = places[i].host === '127.0.0.1';
          // In its own namespace a member may use the usual ports; on loopback each needs its own.
          const [clientPort, routePort] = shared ? await freePorts(2) : [4222, 6222];
          c.members.push(new ClusterMember(`n${i + 1}`, places[i], clientPort, routePort, path.join(c.dir, `n${i + 1}`)));
        }
        for (const m of c.members.slice(0, o.running ?? c.members.length)) m.start(c.routesOf(m));
        await c.ready();
        return c;
      } catch (e) {
        await c.stop();
        // (Read once every member is down: a member's last words are its reason.)
        const portTaken = c.members.some((m) => /address already in use/.test(m.log));
        if (!portTaken || attempt === 3) throw e;
      }
    }
  }

  private routesOf(m: ClusterMember): string[] {
    return this.members.filter((o) => o !== m).map((o) => `nats-route://${o.place.host}:${o.routePort}`);
  }

  /** Every URL, comma separated, as --nats-url takes them. */
  get url(): string {
    return this.members.map((m) => m.url).join(',');
  }

  member(name: string): ClusterMember {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no cluster member ${name}`);
    return m;
  }

  /** Starts a member again on its store (after kill9). */
  restart(m: ClusterMember): void {
    m.start(this.routesOf(m));
  }

  async connect(): Promise<NatsConnection> {
    const nc = await connect({ servers: this.members.map((m) => m.url), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    this.conns.push(nc);
    return nc;
  }

  /** JetStream answers on every started member and places a stream on all of them (its meta group has a leader and each as a peer). */
  async ready(timeoutMs = 30_000): Promise<void> {
    const started = this.members.filter((m) => m.child);
    for (const m of started) {
      await until(
        `${m.name} serves JetStream`,
        async () => {
          if (m.child?.exitCode !== null && m.child?.exitCode !== undefined) throw new Error(`${m.name} exited: ${m.log}`);
          const nc = await connect({ servers: m.url, maxReconnectAttempts: 0, timeout: 1000 }).catch(() => undefined);
          if (!nc) return false;
          try {
            const jsm = await nc.jetstreamManager({ timeout: 1000 });
            await jsm.getAccountInfo();
            return true;
          } catch {
            return false;
          } finally {
            await nc.close().catch(() => undefined);
          }
        },
        timeoutMs,
      );
    }
    // Answering is not yet having every member as a peer of the meta group: until the leader has them
    // all, an R3 stream is refused ("no suitable peers for placement"). One is made and removed here.
    const nc = await this.connect();
    const jsm = await nc.jetstreamManager({ checkAPI: false });
    const probe = { name: 'HV_CLUSTER_READY', subjects: ['hv-cluster-ready'], num_replicas: started.length, storage: StorageType.Memory };
    await until(`an R${started.length} stream placed`, () => jsm.streams.add(probe).then(() => true, () => false), timeoutMs);
    await jsm.streams.delete(probe.name);
  }

  /** Every replica of each stream is current (caught up with its leader): the cluster can take the next fault. */
  async caughtUp(streams: readonly string[], timeoutMs = 60_000): Promise<void> {
    const nc = await this.connect();
    const jsm = await nc.jetstreamManager({ checkAPI: false });
    await until(
      `${streams.join(', ')} current on every replica`,
      async () => {
        for (const s of streams) {
          const c = (await jsm.streams.info(s).catch(() => undefined))?.cluster;
          if (!c?.leader || (c.replicas ?? []).length !== this.members.length - 1 || !(c.replicas ?? []).every((r) => r.current && !r.offline)) return false;
        }
        return true;
      },
      timeoutMs,
    );
  }

  /** The member leading a stream's Raft group now. */
  async leaderOf(stream: string): Promise<ClusterMember> {
    const nc = await this.connect();
    const jsm = await nc.jetstreamManager({ checkAPI: false });
    // JetStream may not answer for a moment (503) while its meta group elects a leader.
    const leader = await until(`a leader of ${stream}`, async () => (await jsm.streams.info(stream).catch(() => undefined))?.cluster?.leader, 30_000);
    return this.member(leader);
  }

  async stop(): Promise<void> {
    await Promise.all(this.conns.splice(0).map((c) => c.close().catch(() => undefined)));
    await Promise.all(this.members.map((m) => m.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
