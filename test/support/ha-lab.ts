import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { HostRunner } from '../../src/sdn/run';
import { type ClusterMember, TestNatsCluster } from './nats-cluster';
import { NetnsHosts } from './netns-hosts';
import { ServerProcess } from './server-process';

const root = new HostRunner();

/** An underlay range of its own (198.19.200–229): the other NetnsHosts users take 198.18.100–249 and 198.19.1–63. */
export const HA_RANGE = { net: '198.19', min: 200, max: 229 };

/**
 * Issue 24's lab: three nats-servers, each in a network namespace of its own
 * (NetnsHosts: a partition is its switch port taken down), clustered with R3
 * streams, and three server replicas in the root namespace on that cluster.
 */
export class HaLab {
  readonly replicas: ServerProcess[] = [];

  private constructor(
    readonly hosts: NetnsHosts,
    readonly nats: TestNatsCluster,
  ) {}

  static async start(o: { replicas?: number; leaseTtlSeconds?: number; logReplicas?: number } = {}): Promise<HaLab> {
    const hosts = await NetnsHosts.create(3, HA_RANGE);
    let nats: TestNatsCluster | undefined;
    try {
      nats = await TestNatsCluster.start(hosts.hosts.map((h) => ({ host: h.ip, wrap: h.wrap })));
      const lab = new HaLab(hosts, nats);
      for (let i = 0; i < (o.replicas ?? 3); i++) await lab.startReplica(i, o);
      return lab;
    } catch (e) {
      await nats?.stop();
      await hosts.cleanup();
      throw e;
    }
  }

  private async startReplica(i: number, o: { leaseTtlSeconds?: number; logReplicas?: number }): Promise<ServerProcess> {
    const dataDir = path.join(this.nats.dir, `server-${i}`);
    mkdirSync(dataDir, { recursive: true });
    const args = ['--log-level', 'info', '--data-dir', dataDir, '--singleton-lease-ttl', String(o.leaseTtlSeconds ?? 3), '--feed-lease-ttl', String(o.leaseTtlSeconds ?? 3)];
    if (o.logReplicas) args.push('--log-replicas', String(o.logReplicas));
    // A cluster just formed may time a JetStream request out while it places the first R3 streams: start again then.
    for (let attempt = 1; ; attempt++) {
      const r = new ServerProcess(this.nats.url, args);
      try {
        await r.start();
        this.replicas.push(r);
        return r;
      } catch (e) {
        await r.stop();
        if (attempt === 3 || !/TIMEOUT/.test((e as Error).message)) throw e;
      }
    }
  }

  get live(): ServerProcess[] {
    return this.replicas.filter((r) => r.running);
  }

  /** Takes a member's switch port down: its namespace keeps running, cut off from the other two and from every client. */
  async cut(m: ClusterMember): Promise<void> {
    await root.in(this.hosts.switchNs).ip(['link', 'set', this.portOf(m), 'down']);
  }

  async heal(m: ClusterMember): Promise<void> {
    await root.in(this.hosts.switchNs).ip(['link', 'set', this.portOf(m), 'up']);
  }

  private portOf(m: ClusterMember): string {
    // NetnsHosts names host n's switch port h<n>, in the order the members were made.
    return `h${this.nats.members.indexOf(m) + 1}`;
  }

  async stop(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.stop().catch(() => undefined)));
    await this.nats.stop().catch(() => undefined);
    await this.hosts.cleanup();
  }
}
