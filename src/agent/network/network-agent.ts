import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { NatsConnection, Subscription } from 'nats';
import type { Logger } from 'pino';
import { decode, encode } from '../../bus/wire';
import type { DataPlaneDriver, Nic, PortObserved } from '../../sdn/driver';
import { EMPTY_PLAN, type HostPlan, mergePlans, type PortLinkStatus, type PortPlan } from '../../domain/host-plan';
import type { LocalStore } from '../local-store';
import { NETWORK_CHANGED_SUBJECT, NETWORK_PLAN_SUBJECT, type InstanceWork, type NetworkPlanReply, perNodeSubject } from '../protocol';
import type { Reporter } from '../reporter';
import type { RealisedReport } from '../../domain/router-plan';
import { writeJsonAtomic } from '../../shared/atomic-file';

const PLAN_TIMEOUT_MS = 3_000;
/** The same status is not sent again sooner than this while the control plane's plan has not caught up with it. */
const RESEND_MS = 10_000;

/**
 * The agent's networking, level-triggered: at start, on a timer, when the
 * control plane says the model changed, and after each work item, it takes
 * the node's plan (the control plane's answer, else the last one it had,
 * plus the ports of the instances it runs) and lets the data-plane driver
 * converge the host to it. Only a plan the control plane answered may
 * remove things ("never destroy on missing information"). Each port's
 * status (ACTIVE with its device, DOWN, ERROR with the reason) is reported
 * when it differs from what the control plane shows.
 */
export class NetworkAgent {
  private timer?: NodeJS.Timeout;
  private sub?: Subscription;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private lock: Promise<unknown> = Promise.resolve();
  private readonly sent = new Map<string, { key: string; at: number }>();
  /** Ports made for work (instance id → its work's plan), kept until a converge's answer is asked for after them. */
  private readonly prepared = new Map<string, { plan: HostPlan; at: number }>();
  private readonly cacheFile: string;
  /** Converges done (tests and benchmarks wait on it). */
  rounds = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly nodeId: () => string,
    readonly driver: DataPlaneDriver,
    private readonly store: LocalStore,
    private readonly reporter: Reporter | undefined,
    stateDir: string,
    private readonly log: Logger,
    /** On a confined NATS: ask on this node's own subject. */
    private readonly perNode = false,
  ) {
    mkdirSync(stateDir, { recursive: true });
    this.cacheFile = path.join(stateDir, 'network-plan.json');
  }

  start(intervalMs: number): void {
    this.sub = this.nc.subscribe(NETWORK_CHANGED_SUBJECT, { callback: () => this.kick() });
    this.timer = setInterval(() => this.kick(), intervalMs);
    this.timer.unref();
  }

  /** Converge soon; kicks during a run make one more run. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => (this.running = undefined));
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      await this.once().catch((err) => this.log.warn({ err }, 'network converge failed; trying again'));
    } while (this.again && !this.stopped);
  }

  /** One converge, now (waits for one in progress first). */
  async once(): Promise<void> {
    const asked = Date.now();
    const answered = await this.fetchPlan();
    const cached = answered ?? this.readCache();
    // The control plane's (or the cached) plan wins over what work carried. Made in turn with prepare(),
    // so ports work made after the answer was taken are in it, never pruned under their instance.
    let plan = EMPTY_PLAN;
    const result = await this.exclusive(() => {
      plan = this.withDevices(mergePlans(this.localPlan(answered, asked), cached ?? EMPTY_PLAN));
      return this.driver.converge(plan, { prune: answered !== undefined });
    });
    this.rounds++;
    if (answered) {
      await this.report(plan, result.errors);
      await this.reportRouters(plan, result.routerErrors ?? new Map());
    }
  }

  /** Before an instance starts: its ports' devices exist, with their filtering. A port this node cannot realise fails the work. */
  async prepare(w: Pick<InstanceWork, 'network' | 'kind' | 'instanceId'>): Promise<Nic[]> {
    if (!w.network?.ports.length) return [];
    const plan = { ...w.network, ports: w.network.ports.map((p) => (p.instanceId && w.kind === 'container' ? { ...p, device: 'veth' as const } : p)) };
    return this.exclusive(() => {
      // Until the work is recorded (a create done, a migration's guest arrived), its ports count as this host's work.
      this.prepared.set(w.instanceId, { plan: w.network!, at: Date.now() });
      return this.driver.ensurePorts(plan);
    });
  }

  /** A container's ports are veths into its network namespace; the runtime of each instance is this host's to know. */
  private withDevices(plan: HostPlan): HostPlan {
    const isContainer = (id: string) => !!id && this.store.get(id)?.work.kind === 'container';
    return { ...plan, ports: plan.ports.map((p) => (isContainer(p.instanceId) ? { ...p, device: 'veth' as const } : p)) };
  }

  /** Bytes through the instance's ports, from the guest's side (its received = what the tap sends). */
  async counters(instanceId: string): Promise<{ rxBytes: number; txBytes: number }> {
    const ports = (this.store.get(instanceId)?.work.network?.ports ?? []).filter((p) => p.instanceId === instanceId);
    const seen = (await this.driver.observe(this.withDevices({ ...EMPTY_PLAN, ports }).ports)).ports;
    let rxBytes = 0;
    let txBytes = 0;
    for (const o of seen.values()) {
      rxBytes += o.txBytes;
      txBytes += o.rxBytes;
    }
    return { rxBytes, txBytes };
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.lock.then(fn, fn);
    this.lock = next.catch(() => undefined);
    return next;
  }

  /**
   * The ports of instances this host runs (from their work): enough to keep
   * them going with no control plane. With an answer, only work applied in
   * the last minute whose port the answer lacks adds to it (the work overtook
   * the read model); anything older the answer no longer has is gone. Ports
   * made for work since the answer was asked for (prepare) are kept too.
   */
  private localPlan(answered: HostPlan | undefined, asked: number): HostPlan {
    const known = new Set(answered?.ports.map((p) => p.id) ?? []);
    const plans = this.store
      .live()
      .filter((r) => !answered || (recent(r.appliedAt) && r.work.network?.ports.some((p) => !known.has(p.id))))
      .map((r) => r.work.network)
      .filter((n): n is HostPlan => !!n);
    // An answer asked for before ports were made for work may not have them yet; a later answer is the truth about them.
    for (const [id, p] of this.prepared) {
      if (p.at < asked) this.prepared.delete(id);
      else if (!answered || p.plan.ports.some((x) => !known.has(x.id))) plans.push(p.plan);
    }
    return mergePlans(EMPTY_PLAN, ...plans);
  }

  private async fetchPlan(): Promise<HostPlan | undefined> {
    const nodeId = this.nodeId();
    if (!nodeId) return undefined;
    try {
      const m = await this.nc.request(this.perNode ? perNodeSubject(NETWORK_PLAN_SUBJECT, nodeId) : NETWORK_PLAN_SUBJECT, encode({ nodeId }), { timeout: PLAN_TIMEOUT_MS });
      const r = decode<NetworkPlanReply>(m.data);
      this.writeCache(r.plan);
      return r.plan;
    } catch (err) {
      this.log.debug({ err }, 'no network plan from the control plane; keeping what is there');
      return undefined;
    }
  }

  private readCache(): HostPlan | undefined {
    try {
      return JSON.parse(readFileSync(this.cacheFile, 'utf8')) as HostPlan;
    } catch {
      return undefined;
    }
  }

  private writeCache(p: HostPlan): void {
    writeJsonAtomic(this.cacheFile, p);
  }

  /** Each port's status (the instances' ports, and this host's DHCP servers' ports) when it differs from what the control plane shows. */
  private async report(plan: HostPlan, errors: ReadonlyMap<string, string>): Promise<void> {
    if (!this.reporter) return;
    const dhcp = plan.networks.flatMap((n) => n.dhcp);
    const { ports, dhcp: servers } = await this.driver.observe(plan.ports, dhcp);
    // A binding made here ahead of a move is its bound node's to report until the binding moves here.
    for (const p of plan.ports) if (!p.inactive) await this.reportOne(p.id, p.instanceId || p.id, p.reported, ports.get(p.id), errors.get(p.id));
    for (const d of dhcp) if (d.port) await this.reportOne(d.port.id, d.port.id, d.port.reported, servers.get(d.port.id), undefined);
  }

  private async reportOne(id: string, correlationId: string, reported: PortPlan['reported'], o: PortObserved | undefined, error: string | undefined): Promise<void> {
    const status: PortLinkStatus = error !== undefined ? 'ERROR' : o?.up ? 'ACTIVE' : 'DOWN';
    const reason = error ?? '';
    const deviceName = o?.device ?? reported?.deviceName ?? '';
    if (reported && reported.status === status && reported.reason === reason && reported.deviceName === deviceName) {
      this.sent.delete(id);
      return;
    }
    const key = `${status}|${reason}|${deviceName}`;
    const last = this.sent.get(id);
    if (last?.key === key && Date.now() - last.at < RESEND_MS) return;
    this.sent.set(id, { key, at: Date.now() });
    await this.reporter!
      .send(`agent-port:${id}:${status}:${Date.now()}`, 'port', id, { type: 'ReportPortStatus', data: { nodeId: this.nodeId(), status, deviceName, reason } }, correlationId)
      .catch((err) => this.log.warn({ err, portId: id }, 'cannot report the port status yet'));
  }

  /**
   * Each router this node holds, and the floating IPs through it: ACTIVE, or ERROR with the reason (a router
   * whose external network this node does not map is not ACTIVE), when it differs from what the control plane shows.
   */
  private async reportRouters(plan: HostPlan, errors: ReadonlyMap<string, string>): Promise<void> {
    if (!this.reporter) return;
    const nodeId = this.nodeId();
    for (const r of plan.routers ?? []) {
      const reason = errors.get(r.id) ?? '';
      const status = reason ? 'ERROR' : 'ACTIVE';
      const send = (kind: string, id: string, type: string, data: Record<string, string>, reported: RealisedReport | undefined) => {
        if (reported?.status === status && reported.reason === reason) return this.sent.delete(`${kind}:${id}`), undefined;
        const key = `${status}|${reason}`;
        const last = this.sent.get(`${kind}:${id}`);
        if (last?.key === key && Date.now() - last.at < RESEND_MS) return undefined;
        this.sent.set(`${kind}:${id}`, { key, at: Date.now() });
        return this.reporter!.send(`agent-${kind}:${id}:${status}:${Date.now()}`, kind, id, { type, data: { nodeId, status, reason, ...data } }, r.id).catch((err) =>
          this.log.warn({ err, [`${kind}Id`]: id }, `cannot report the ${kind} status yet`),
        );
      };
      await send('router', r.id, 'ReportRouterStatus', {}, r.reported);
      for (const f of r.floatingIps) await send('floating_ip', f.id, 'ReportFloatingIpStatus', { routerId: r.id }, f.reported);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.sub?.unsubscribe();
    await this.running;
    await this.lock;
  }
}

/** Work applied in the last minute: the read model may not show its port yet. */
const recent = (at: string | undefined) => !!at && Date.now() - Date.parse(at) < 60_000;
