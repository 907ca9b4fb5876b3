import { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { FailedPrecondition, InvalidArgument, NotFound } from '../../../errors';
import type {
  ConsoleOptions,
  ConsoleStream,
  ImagePreparation,
  InstanceDriver,
  InstanceSpecForDriver,
  InstanceStats,
  InstanceType,
  LaunchWork,
  Observed,
  ProbeResult,
  StopOptions,
} from '../driver';
import { vmLaunchSpec } from '../vm-launch-spec';

export interface HollowDriverOptions {
  /** Simulated launch time; 0 = instant. */
  startDelayMs?: number;
  /** Simulated guest power-off time after the power button. */
  stopDelayMs?: number;
  /** Which instance types it pretends to run. */
  supports?: readonly InstanceType[];
}

interface Hollow {
  spec: InstanceSpecForDriver;
  state: Observed['state'];
  reason?: string;
  pid?: number;
  startedAt?: Date;
  consoles: Set<Duplex>;
  prevCpu?: { cpuTimeNs: number; atMs: number };
}

/** Far above real pids, so a hollow pid is never mistaken for a process. */
let nextPid = 10_000_000;

/**
 * Instances that exist only in memory, for scale tests of everything above the driver
 * (as Kubernetes' kubemark does with hollow nodes). Never the default; nothing survives
 * the process, so list() after a restart is empty.
 *
 * The console behaves like the test guest's: "HV-GUEST-READY" on start, and a typed
 * `echo ...` line comes back with $((a*b)) and $((a+b)) evaluated. It has a window
 * size, as a pty has: resize() sets it and `stty size` answers "rows cols".
 */
export class HollowDriver implements InstanceDriver {
  readonly kind = 'hollow';
  readonly supports: readonly InstanceType[];
  private readonly instances = new Map<string, Hollow>();

  constructor(private readonly opts: HollowDriverOptions = {}) {
    this.supports = opts.supports ?? ['vm', 'microvm', 'container'];
  }

  async probe(): Promise<ProbeResult> {
    return { ok: true };
  }

  /** A container too gets a VM's launch spec: nothing is pulled for an instance that only pretends to run. */
  launchSpec(w: LaunchWork, images: ImagePreparation): Promise<InstanceSpecForDriver> {
    return vmLaunchSpec(w, images);
  }

  async create(spec: InstanceSpecForDriver): Promise<void> {
    if (!this.supports.includes(spec.type)) throw new InvalidArgument(`the hollow driver is not set up to run ${spec.type}`);
    const cur = this.instances.get(spec.instanceId);
    if (cur) cur.spec = spec;
    else this.instances.set(spec.instanceId, { spec, state: 'stopped', reason: 'never started', consoles: new Set() });
  }

  async start(instanceId: string): Promise<Observed> {
    const h = this.get(instanceId);
    if (h.state !== 'running' && h.state !== 'paused') {
      if (this.opts.startDelayMs) await sleep(this.opts.startDelayMs);
      Object.assign(h, { state: 'running', reason: undefined, pid: nextPid++, startedAt: new Date(), prevCpu: undefined });
      this.broadcast(h, 'HV-GUEST-READY\r\n');
    }
    return this.observe(instanceId, h);
  }

  async stop(instanceId: string, opts: StopOptions): Promise<void> {
    const h = this.get(instanceId);
    if (h.state !== 'running' && h.state !== 'paused') return;
    if (opts.graceMs > 0 && this.opts.stopDelayMs) await sleep(Math.min(opts.graceMs, this.opts.stopDelayMs));
    this.end(h, 'stopped', 'stopped by request');
  }

  async destroy(instanceId: string): Promise<void> {
    const h = this.instances.get(instanceId);
    if (!h) return;
    this.end(h, 'stopped', 'destroyed');
    this.instances.delete(instanceId);
  }

  async inspect(instanceId: string): Promise<Observed | undefined> {
    const h = this.instances.get(instanceId);
    return h && this.observe(instanceId, h);
  }

  async list(): Promise<Observed[]> {
    return [...this.instances.entries()].map(([id, h]) => this.observe(id, h));
  }

  async stats(instanceId: string): Promise<InstanceStats> {
    const h = this.get(instanceId);
    if (h.state !== 'running' && h.state !== 'paused') throw new FailedPrecondition(`instance ${instanceId} is ${h.state}`);
    const now = Date.now();
    const upMs = now - h.startedAt!.getTime();
    // A guest that keeps a tenth of a core busy and has touched half its memory.
    const cpuTimeNs = Math.round(upMs * 1e6 * 0.1 * h.spec.cpuCores) + 1;
    const prev = h.prevCpu ?? { cpuTimeNs: 0, atMs: h.startedAt!.getTime() };
    h.prevCpu = { cpuTimeNs, atMs: now };
    const wallNs = (now - prev.atMs) * 1e6;
    return {
      cpuTimeNs,
      cpuUsagePercent: wallNs > 0 ? ((cpuTimeNs - prev.cpuTimeNs) / wallNs) * 100 : 0,
      memoryUsedBytes: Math.floor(h.spec.memoryBytes / 2),
      memoryCacheBytes: 0,
      diskReadBytes: upMs * 1024,
      diskWriteBytes: upMs * 256,
      netRxBytes: 0,
      netTxBytes: 0,
      collectedAt: new Date(now),
    };
  }

  async console(instanceId: string, opts: ConsoleOptions = {}): Promise<ConsoleStream> {
    const h = this.get(instanceId);
    if (h.state !== 'running' && h.state !== 'paused') throw new FailedPrecondition(`instance ${instanceId} is ${h.state}`);
    let line = '';
    let size = { rows: 24, cols: 80 };
    const client: ConsoleStream = new Duplex({
      read() {},
      write: (chunk: Buffer, _enc, cb) => {
        // The guest's tty echoes what is typed, and the shell answers each line; Enter on a
        // terminal in raw mode sends CR, which a tty's line discipline reads as NL (icrnl).
        const text = chunk.toString().replace(/\r\n?/g, '\n');
        this.broadcast(h, text.replace(/\n/g, '\r\n'));
        line += text;
        let nl: number;
        while ((nl = line.indexOf('\n')) >= 0) {
          const cmd = line.slice(0, nl).trim();
          line = line.slice(nl + 1);
          const m = /^echo (.*)$/.exec(cmd);
          if (m) this.broadcast(h, evalArithmetic(m[1]) + '\r\n');
          if (cmd === 'stty size') this.broadcast(h, `${size.rows} ${size.cols}\r\n`);
          this.broadcast(h, '# ');
        }
        cb();
      },
      final(cb) {
        h.consoles.delete(client);
        client.push(null);
        cb();
      },
      destroy(err, cb) {
        h.consoles.delete(client);
        cb(err);
      },
    });
    client.resize = (cols, rows) => (size = { rows, cols });
    if (opts.replay) client.push('HV-GUEST-READY\r\n');
    h.consoles.add(client);
    return client;
  }

  async close(): Promise<void> {
    for (const h of this.instances.values()) for (const c of h.consoles) c.push(null);
  }

  /** For scale tests of crash handling: the instance "dies" as a killed QEMU would. */
  crash(instanceId: string, reason = 'simulated crash'): void {
    this.end(this.get(instanceId), 'crashed', reason);
  }

  private end(h: Hollow, state: Observed['state'], reason: string): void {
    h.state = state;
    h.reason = reason;
    h.pid = undefined;
    for (const c of h.consoles) c.push(null);
    h.consoles.clear();
  }

  private broadcast(h: Hollow, text: string): void {
    for (const c of h.consoles) c.push(text);
  }

  private get(instanceId: string): Hollow {
    const h = this.instances.get(instanceId);
    if (!h) throw new NotFound(`instance ${instanceId} does not exist`);
    return h;
  }

  private observe(instanceId: string, h: Hollow): Observed {
    const o: Observed = { instanceId, state: h.state };
    if (h.pid !== undefined) o.pid = h.pid;
    if (h.reason !== undefined) o.reason = h.reason;
    if (h.startedAt) o.startedAt = h.startedAt;
    return o;
  }
}

/** $((a op b)) with integers, the little of sh arithmetic the test commands use. */
function evalArithmetic(s: string): string {
  return s.replace(/\$\(\((\d+)\s*([-+*])\s*(\d+)\)\)/g, (_, a: string, op: string, b: string) => {
    const x = Number(a);
    const y = Number(b);
    return String(op === '+' ? x + y : op === '-' ? x - y : x * y);
  });
}
