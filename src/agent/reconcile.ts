import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { decode, encode } from '../bus/wire';
import type { Observed } from './drivers/driver';
import type { Executor } from './executor';
import type { LocalRecord, LocalStore } from './local-store';
import { type DesiredReply, DESIRED_SUBJECT, type InstanceWork, perNodeSubject } from './protocol';
import type { Reporter } from './reporter';
import { restartPolicyOf } from '../domain/restart-policy';
import { type Crash, onProcessEnded } from './restart-policy';

export type ReconcileAction =
  /** Work the control plane asked for that this host has not done (its message may still be on the way; doing it twice is harmless). */
  | { kind: 'execute'; work: InstanceWork }
  /** Something of an instance the control plane does not place here any more. */
  | { kind: 'destroy'; instanceId: string }
  /** A process still runs for an instance that should not run (FAILED): end it, keep its files (disks, qemu.log). */
  | { kind: 'stop'; instanceId: string }
  /** The restart policy starts it again on this node (its process ended while it should run). */
  | { kind: 'restart'; instanceId: string; crashes: Crash[]; reason: string }
  /** The restart policy waits out its backoff; the end is kept on record meanwhile. */
  | { kind: 'note-crash'; instanceId: string; crashes: Crash[] }
  /** A guest that came in by live migration and was never let run (its agent was killed at the switch). */
  | { kind: 'resume'; instanceId: string }
  | { kind: 'report-failed'; instanceId: string; generation: number; reason: string }
  | { kind: 'report-stopped'; instanceId: string; generation: number; reason: string };

export interface PlanInput {
  readonly desired: DesiredReply;
  readonly records: ReadonlyMap<string, LocalRecord>;
  readonly observed: ReadonlyMap<string, Observed>;
  /** Processes the drivers found on the host (by pid, files or not), by instance. */
  readonly processes?: ReadonlyMap<string, readonly number[]>;
  /** Instances with work in hand: left alone this round. */
  readonly busy: (id: string) => boolean;
  /** Now (epoch ms), for the restart policy's backoff. */
  readonly now?: number;
}

/**
 * Pure: what to do so that this host matches what the control plane says
 * should run on it. Running QEMUs of a RUNNING instance are adopted (nothing
 * to do); a RUNNING instance whose process died or whose files are gone is
 * reported; a FAILED one's process is ended; an instance not placed here
 * (or a process of one, found by pid) is removed, unless this host did work
 * for it after the answer was made.
 */
export const plan = ({ desired, records, observed, processes = new Map(), busy, now = 0 }: PlanInput): ReconcileAction[] => {
  const out: ReconcileAction[] = [];
  const wanted = new Set<string>();
  for (const d of desired.instances) {
    wanted.add(d.instanceId);
    if (busy(d.instanceId)) continue;
    const applied = records.get(d.instanceId)?.generation ?? 0;
    if (d.work && d.work.generation > applied) {
      out.push({ kind: 'execute', work: d.work });
      continue;
    }
    if (d.work) continue;
    const o = observed.get(d.instanceId);
    const r = records.get(d.instanceId);
    if (d.status === 'FAILED') {
      // FAILED for any reason ends the process; work done here since the answer (a start) is newer.
      const alive = (o?.pid !== undefined && o.state !== 'stopped') || (processes.get(d.instanceId)?.length ?? 0) > 0;
      if (alive && !(r && r.position > desired.position)) out.push({ kind: 'stop', instanceId: d.instanceId });
      continue;
    }
    if (d.status !== 'RUNNING') continue;
    if (!o) {
      out.push({ kind: 'report-failed', instanceId: d.instanceId, generation: d.generation, reason: 'its files are gone from the node; nothing is left to run' });
      continue;
    }
    // QEMU's plain 'paused' with no record of work here: a migration's destination whose agent died before
    // recording its arrival. A guest this host ran and someone paused (QMP stop) has its record, and stays paused.
    if (o.state === 'paused' && !o.reason && !r) {
      out.push({ kind: 'resume', instanceId: d.instanceId });
      continue;
    }
    if (o.state !== 'crashed' && o.state !== 'stopped') continue;
    const reason = o.reason ?? (o.state === 'crashed' ? 'it crashed' : 'it stopped');
    const policy = restartPolicyOf(r?.work.annotations);
    const v = onProcessEnded(policy, { state: o.state, run: o.startedAt?.toISOString() ?? '', reason }, r?.crashes ?? [], now);
    switch (v.kind) {
      case 'restart':
        out.push({ kind: 'restart', instanceId: d.instanceId, crashes: v.crashes, reason });
        break;
      case 'wait':
        if (v.crashes.length !== (r?.crashes?.length ?? 0) || v.crashes.some((c, i) => c.run !== r?.crashes?.[i]?.run))
          out.push({ kind: 'note-crash', instanceId: d.instanceId, crashes: v.crashes });
        break;
      case 'give-up':
        out.push({ kind: 'report-failed', instanceId: d.instanceId, generation: d.generation, reason: v.reason });
        break;
      case 'report':
        if (o.state === 'crashed') out.push({ kind: 'report-failed', instanceId: d.instanceId, generation: d.generation, reason });
        else out.push({ kind: 'report-stopped', instanceId: d.instanceId, generation: d.generation, reason });
    }
  }
  const here = new Set<string>([
    ...observed.keys(),
    ...processes.keys(),
    ...[...records.values()].filter((r) => !r.destroyed).map((r) => r.instanceId),
  ]);
  for (const id of here) {
    if (wanted.has(id) || busy(id)) continue;
    const r = records.get(id);
    if (r?.origin === 'local') continue;
    if (r && r.position > desired.position) continue; // the answer predates work this host did since
    out.push({ kind: 'destroy', instanceId: id });
  }
  return out;
};

/**
 * The agent's reconcile: at start and on a timer, compare what the control
 * plane wants here with what runs, and converge (STYLE.md §3). Without an
 * answer from the control plane it does nothing: never destroy on missing
 * information.
 */
export class Reconciler {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly nodeId: string,
    private readonly store: LocalStore,
    private readonly executor: Executor,
    private readonly listObserved: () => Promise<Observed[]>,
    private readonly reporter: Reporter,
    private readonly log: Logger,
    private readonly listProcesses: () => Promise<{ instanceId: string; pid: number }[]> = async () => [],
    /** On a confined NATS: ask on this node's own subject. */
    private readonly perNode = false,
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.once(), intervalMs);
    this.timer.unref();
  }

  stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    return this.running ?? Promise.resolve();
  }

  /** One pass; a pass already under way is joined, not doubled. */
  once(): Promise<void> {
    this.running ??= this.pass()
      .catch((err) => this.log.warn({ err }, 'reconcile pass failed'))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<void> {
    let desired: DesiredReply;
    try {
      const m = await this.nc.request(this.perNode ? perNodeSubject(DESIRED_SUBJECT, this.nodeId) : DESIRED_SUBJECT, encode({ nodeId: this.nodeId }), { timeout: 5_000 });
      desired = decode<DesiredReply>(m.data);
    } catch (err) {
      this.log.debug({ err }, 'no desired state from the control plane; nothing reconciled');
      return;
    }
    const observed = new Map((await this.listObserved()).map((o) => [o.instanceId, o]));
    const processes = new Map<string, number[]>();
    for (const p of await this.listProcesses()) processes.set(p.instanceId, [...(processes.get(p.instanceId) ?? []), p.pid]);
    const records = new Map(this.store.all().map((r) => [r.instanceId, r]));
    const actions = plan({ desired, records, observed, processes, busy: (id) => this.executor.isBusy(id), now: Date.now() });
    await Promise.all(actions.map((a) => this.act(a).catch((err) => this.log.warn({ err, action: a.kind, instanceId: 'work' in a ? a.work.instanceId : a.instanceId }, 'reconcile action failed'))));
  }

  private async act(a: ReconcileAction): Promise<void> {
    switch (a.kind) {
      case 'execute':
        await this.executor.run(a.work);
        return;
      case 'destroy':
        this.log.info({ instanceId: a.instanceId }, 'removing an instance the control plane does not place here');
        await this.executor.exclusive(a.instanceId, async () => {
          await this.executor.destroyEverywhere(a.instanceId, this.store.get(a.instanceId)?.work.kind);
          this.store.tombstone(a.instanceId);
        });
        return;
      case 'stop':
        this.log.info({ instanceId: a.instanceId }, 'ending the process of a FAILED instance');
        await this.executor.exclusive(a.instanceId, () => this.executor.endProcess(a.instanceId, this.store.get(a.instanceId)?.work.kind));
        return;
      case 'restart':
        this.log.warn({ instanceId: a.instanceId, reason: a.reason, ends: a.crashes.length }, 'its process ended; starting it again (restart policy)');
        await this.executor.exclusive(a.instanceId, () => this.executor.restartInPlace(a.instanceId, a.crashes));
        return;
      case 'resume':
        this.log.warn({ instanceId: a.instanceId }, 'its guest came in by migration and waits; letting it run');
        await this.executor.exclusive(a.instanceId, async () => {
          const found = await this.executor.find(a.instanceId);
          await found?.driver.migration?.resume(a.instanceId);
        });
        return;
      case 'note-crash':
        this.store.noteCrashes(a.instanceId, a.crashes);
        return;
      case 'report-failed':
        this.log.warn({ instanceId: a.instanceId, reason: a.reason }, 'instance died');
        await this.reporter.instance(a.instanceId, a.generation, a.instanceId, {
          type: 'ReportInstanceFailed',
          data: { nodeId: this.nodeId, generation: a.generation, reason: a.reason },
        });
        return;
      case 'report-stopped':
        await this.reporter.instance(a.instanceId, a.generation, a.instanceId, {
          type: 'ReportInstanceStopped',
          data: { nodeId: this.nodeId, generation: a.generation, reason: a.reason },
        });
    }
  }
}
