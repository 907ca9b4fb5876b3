import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IdentityServiceClient } from '../../src/gen/hypervisor/iam/v1/iam';
import { ClusterServiceClient, ListNodesRequest } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient, type Instance } from '../../src/gen/hypervisor/v1/compute';
import type { ServerConfig } from '../../src/server/config';
import { HostRunner } from '../../src/sdn/run';
import { AgentProcess } from '../support/agent-process';
import { killProcessesUnder, removeRunCgroups, unmountUnder } from '../support/leftovers';
import { ConsoleSession, createRequest, InstanceWatch, MiB } from '../support/compute';
import { call, TestControlPlane, until } from '../support/control-plane';
import { ImageServer, testGuestDir } from '../support/image-server';
import { NetnsHosts, type UnderlayRange } from '../support/netns-hosts';
import { Net } from '../network/support';

const READY = 'HV-GUEST-READY';
// Several guests boot at once under TCG on a machine that runs other test files too: a
// drain test's fourth guest was once still in its init after 40 s (CI, 2 cores). A guest
// that hangs still fails, later.
const BOOT_DEADLINE_MS = 120_000;
export const root = new HostRunner();

export interface LabOptions {
  readonly range?: UnderlayRange;
  readonly prepare?: (lab: NetnsHosts) => Promise<void>;
  readonly agentArgs?: readonly string[] | ((host: number) => readonly string[]);
  /** How long the agents get to register (more with --accel auto, whose probe boots a kernel first). */
  readonly registerWithinMs?: number;
  /** The control plane's settings beyond the lab's own (e.g. migrationTimeoutSeconds). */
  readonly server?: Partial<ServerConfig>;
  /** More environment for every agent (e.g. HV_AGENT_MIGRATION_TIMEOUT_SECONDS). */
  readonly agentEnv?: Readonly<Record<string, string>>;
}

/**
 * The whole system on namespace hosts: the control plane (network mode) and
 * its confined NATS in the root namespace on the underlay's root address, one
 * real hypervisor-agent process per host namespace, joined with a token (its
 * own state dir and certificate, --tunnel-ip, TCG unless told), the
 * test guest served from the root namespace. VM tests of the data plane
 * build on it; `stop()` removes everything, also after a failure.
 */
export class DataplaneLab {
  lab!: NetnsHosts;
  cp!: TestControlPlane;
  images!: ImageServer;
  agents: AgentProcess[] = [];
  nodeIds: string[] = [];
  c!: ComputeServiceClient;
  net!: Net;
  watch!: InstanceWatch;
  private readonly dirs: string[] = [];
  private consoles: ConsoleSession[] = [];

  /**
   * opts (issue 11's router tests): the underlay range, work on the hosts
   * before their agents start (an external network, a registry), and more
   * agent flags (the same for every host, or per host).
   */
  async start(hosts = 2, opts: LabOptions = {}): Promise<this> {
    this.lab = await NetnsHosts.create(hosts, opts.range);
    await opts.prepare?.(this.lab);
    const ip = this.lab.rootIp;
    // Network mode, as beyond loopback in production: gRPC with mutual TLS, the embedded NATS confined (TLS, one
    // user per certificate), and every agent joins with a token of its own (issue 27), so it acts only as its node.
    this.cp = new TestControlPlane({ ...opts.server, grpcHost: ip, natsUrl: undefined, natsListen: `${ip}:0` });
    await this.cp.start();
    const identity = this.cp.client(IdentityServiceClient);
    this.images = await new ImageServer(testGuestDir(), ip).start();
    this.c = this.cp.client(ComputeServiceClient);
    this.net = new Net(this.cp);
    this.watch = new InstanceWatch(this.c);
    for (const [i, h] of this.lab.hosts.entries()) {
      const more = typeof opts.agentArgs === 'function' ? opts.agentArgs(i) : (opts.agentArgs ?? []);
      const dir = mkdtempSync(path.join(os.tmpdir(), `${this.lab.token}-agent-`));
      this.dirs.push(dir);
      const { token } = await call(identity, identity.createJoinToken, { ttlSeconds: 600, serverAddress: '' });
      const a = new AgentProcess(
        `${ip}:${this.cp.cp.grpcPort}`,
        this.cp.cp.nats!.agentUrl,
        dir,
        h.name,
        // Containers' cgroups under the run's token, so stop() removes exactly this run's.
        ['--advertise-ip', h.ip, '--listen-host', '0.0.0.0', '--tunnel-ip', h.ip, '--image-allow-cidr', this.lab.prefix, '--oci-cgroup-parent', this.lab.token, ...more],
        // The token is used once: an agent started again finds its certificate in <state-dir>/pki.
        { env: { HV_AGENT_NETWORK_MS: '1000', ...opts.agentEnv, HV_JOIN_TOKEN: token }, wrap: h.wrap },
      );
      this.agents.push(await a.start());
    }
    const cluster = this.cp.client(ClusterServiceClient);
    await until('agents registered', async () => {
      const r = await call(cluster, cluster.listNodes, ListNodesRequest.fromPartial({ pageSize: 100 }));
      const nodes = (r as { nodes: { id: string; hostname: string }[] }).nodes;
      this.nodeIds = this.lab.hosts.map((h) => nodes.find((n) => n.hostname === h.name)?.id ?? '');
      return this.nodeIds.every(Boolean);
    }, opts.registerWithinMs ?? 30_000).catch((e) => {
      throw new Error(`${(e as Error).message}\n${this.dump()}`);
    });
    return this;
  }

  /**
   * The lab of the mocha suite this is called in: started before its tests,
   * stopped after them; a failed test's error is printed at once (the
   * teardown takes a while), and the agents' logs at the stop.
   */
  static forSuite(hosts: number, opts: LabOptions = {}): DataplaneLab {
    const t = new DataplaneLab();
    let failed = false;
    before(async () => void (await t.start(hosts, opts)));
    afterEach(function () {
      if (this.currentTest?.state !== 'failed') return;
      failed = true;
      console.log(this.currentTest.err);
    });
    after(() => t.stop(failed));
    return t;
  }

  /** A VXLAN network with one DHCP subnet. */
  async network(name: string, cidr: string, mtu = 1400) {
    const n = await this.net.network({ name, type: 1, mtu });
    const s = await this.net.subnet(n.id, cidr, { name: `${name}-s`, enableDhcp: true, dnsServers: ['198.18.0.53'] });
    return { network: n, subnet: s };
  }

  /** A microvm of the test guest on host i with a NIC on the network; resolves once it runs. */
  async vm(name: string, host: number, networkId: string, subnetId: string, securityGroups: string[] = []): Promise<Instance> {
    const i = await this.createVm(name, host, networkId, subnetId, securityGroups);
    const settled = await this.watch.settled(i.id, 120_000);
    assert.equal(settled.state, InstanceState.INSTANCE_STATE_RUNNING, `${name}: ${settled.stateReason}`);
    assert.equal(settled.nodeId, this.nodeIds[host]);
    return settled;
  }

  /** CreateInstance of that microvm, answered (not yet settled: it may still fail on its node). */
  async createVm(name: string, host: number, networkId: string, subnetId: string, securityGroups: string[] = []): Promise<Instance> {
    return call(
      this.c,
      this.c.createInstance,
      createRequest(
        name,
        InstanceType.INSTANCE_TYPE_MICROVM,
        {
          cpuCores: 1,
          memoryBytes: 192 * MiB,
          kernel: this.images.url('vmlinuz'),
          initrd: this.images.url('initramfs.cpio.gz'),
          network: { networkId, subnetId, securityGroups, assignPublicIp: false },
        },
        { preferredNodeId: this.nodeIds[host] },
      ),
    );
  }

  /** A container of the image `ref` running `argv` on host i with a port on the network; resolves once it runs. */
  async container(name: string, host: number, ref: string, argv: string[], networkId: string, subnetId: string, securityGroups: string[] = []): Promise<Instance> {
    const i = await call(
      this.c,
      this.c.createInstance,
      createRequest(
        name,
        InstanceType.INSTANCE_TYPE_CONTAINER,
        { image: ref, memoryBytes: 64 * MiB, command: argv.slice(0, 1), args: argv.slice(1), network: { networkId, subnetId, securityGroups, assignPublicIp: false } },
        { preferredNodeId: this.nodeIds[host] },
      ),
    );
    const settled = await this.watch.settled(i.id, 120_000);
    assert.equal(settled.state, InstanceState.INSTANCE_STATE_RUNNING, `${name}: ${settled.stateReason}`);
    assert.equal(settled.nodeId, this.nodeIds[host]);
    return settled;
  }

  /** A new console on a guest that booted before (after its agent was restarted, say): no ready marker to wait for. */
  reattach(id: string): ConsoleSession {
    const con = new ConsoleSession(this.c, id);
    this.consoles.push(con);
    return con;
  }

  /** A console on a booted guest. */
  async console(id: string): Promise<ConsoleSession> {
    const con = new ConsoleSession(this.c, id);
    this.consoles.push(con);
    if (!(await con.waitFor(READY, BOOT_DEADLINE_MS))) throw new Error(`${id}: no ${READY}: ${con.text.slice(-800)}`);
    return con;
  }

  /** Runs a shell command in the guest and returns its output (between two markers). */
  async sh(con: ConsoleSession, cmd: string, timeoutMs = 30_000): Promise<string> {
    const tag = `hv${Math.random().toString(36).slice(2, 8)}`;
    const from = con.text.length;
    // The quotes keep the terminal's echo of the command line from looking like the markers.
    con.type(`echo ${tag}""-B; ${cmd}; echo ${tag}""-E\n`);
    const end = `${tag}-E\r\n`;
    assert.ok(await con.waitFor(end, timeoutMs, from), `no end of "${cmd}" in: ${con.text.slice(from)}`);
    const out = con.text.slice(from);
    const b = out.indexOf(`${tag}-B\r\n`);
    return out.slice(b + tag.length + 4, out.indexOf(end, b)).replace(/\r/g, '');
  }

  /**
   * The guest's lease once it has one (written by the test guest's udhcpc script). Bounded
   * generously: a TCG guest on a loaded CI machine was seen past 45 s (its udhcpc retries once
   * a second, and the guest's own clock runs slow); a guest with no lease still fails the match.
   */
  async lease(con: ConsoleSession): Promise<string> {
    return this.sh(con, 'i=0; while [ ! -s /tmp/lease ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i+1)); done; cat /tmp/lease', 120_000);
  }

  /** Whether the guest gets an answer to one ping (1 s) of ip, trying up to `tries` times. */
  async pings(con: ConsoleSession, ip: string, tries = 1): Promise<boolean> {
    const out = await this.sh(con, `for n in $(seq ${tries}); do ping -c 1 -W 1 ${ip} >/dev/null 2>&1 && { echo PING-OK; break; }; done; echo PING-DONE`);
    return out.includes('PING-OK');
  }

  async deleteInstance(id: string): Promise<void> {
    await call(this.c, this.c.deleteInstance, { instanceId: id, force: true } as never);
    await until(`${id} deleted`, async () => this.watch.events.some((e) => e.type === 3 && e.instance?.id === id), 60_000);
  }

  /** Links, nft tables and namespaces of ours on host i, and dnsmasq processes of the run. */
  async leftovers(i: number): Promise<string[]> {
    const h = this.lab.hosts[i].name;
    const links = (await root.in(h).ipJson<{ ifname: string }>(['link', 'show'])).map((l) => l.ifname).filter((n) => n.startsWith('hv-'));
    const tables = (JSON.parse(await root.in(h).run('nft', ['-j', 'list', 'tables'])).nftables as { table?: { family: string; name: string } }[])
      .filter((x) => x.table)
      .map((x) => `nft ${x.table!.family} ${x.table!.name}`);
    const ns = (await root.ipJson<{ name: string }>(['netns', 'list'])).map((n) => n.name).filter((n) => n.startsWith(`hv-${h}`));
    const procs = (await root.run('ps', ['-eo', 'args'])).split('\n').filter((l) => l.startsWith('dnsmasq') && l.includes(this.lab.token));
    return [...links, ...tables, ...ns, ...procs];
  }

  /** The agents' logs, for a failed test's report. */
  dump(): string {
    return this.agents.map((a, i) => `--- agent ${i} (${a.hostname})\n${a.log.slice(-6000)}`).join('\n');
  }

  async stop(failed = false): Promise<void> {
    if (failed) console.log(this.dump());
    for (const c of this.consoles) c.close();
    this.watch?.close();
    for (const a of this.agents) await a.kill9();
    // The control plane before the underlay: its NATS connection is on the root veth the cleanup deletes.
    await this.cp?.stop();
    await this.images?.stop();
    await this.lab?.cleanup();
    // What the killed agents' instances left: shims and QEMUs, containers' overlay roots, their cgroups.
    for (const d of this.dirs) {
      killProcessesUnder(d);
      unmountUnder(d);
      rmSync(d, { recursive: true, force: true });
    }
    if (this.lab) removeRunCgroups(this.lab.token);
  }
}
