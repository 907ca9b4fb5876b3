import net from 'node:net';
import { Code, FailedPrecondition } from '../errors';
import { SwitchInDoubt } from './drivers/driver';
import type { InstanceWork } from './protocol';
import { holdPorts } from './migration-ports';
import { type MoveWorkDeps, moveReports, recordArrival } from './move-reports';

export interface MigrationSettings {
  /** The address the other host reaches this one at (the node's advertise address). */
  readonly host: () => string;
  readonly portMin: number;
  readonly portMax: number;
  readonly downtimeLimitMs: number;
  readonly timeoutMs: number;
}

interface Deps extends MoveWorkDeps {
  readonly settings: MigrationSettings;
}

/**
 * A host's part of a live migration. The target prepares the destination and says where
 * it listens; the source sends the guest there. Whoever sees the switch done reports it
 * (both do; the second report changes nothing), and the report is in the log before the
 * source's copy is removed, so the guest is never on no host. A failure at either end
 * leaves the guest on the source: the source reports it (FailMigration), the target
 * removes what it prepared. Never on both: the target runs the guest only once its report
 * is taken, the source lets the switch happen only once the log has it ('switching'), and
 * a source that gave up after the switch began resumes only once the log has taken its
 * failure; refused (the log has the move completed), it removes its paused copy. A source
 * whose switch completed resumes only when the log says the move failed (FAILED_PRECONDITION);
 * its report refused for any other reason (the target's report came first, so the instance is
 * not placed on it any more), it removes its copy.
 */
export const runMigrationWork = async (d: Deps, w: InstanceWork): Promise<void> => {
  const m = w.migration!;
  const live = d.driver.migration;
  const log = d.log.child({ instanceId: w.instanceId, migration: m.id, action: w.action });
  const { report, ask, fail } = moveReports(d.reporter, w);

  if (w.action === 'migrate-in') {
    try {
      const here = await d.driver.inspect(w.instanceId);
      if (here?.pid !== undefined && here.state !== 'stopped' && here.state !== 'crashed') {
        // Redelivered (this agent was killed mid-move): the destination is here already; preparing
        // it again would end the guest if it has arrived. The reconcile resumes or removes it.
        log.info({ state: here.state, status: here.reason }, 'a destination is here already; not prepared again');
        return;
      }
      if (!live) throw new FailedPrecondition(`the ${d.driver.kind} driver on this node cannot take a live migration`);
      const launch = await d.driver.launchSpec(w, d.images);
      // The second binding: the same tap name and MAC as on the source, its rules in place before the guest can send here.
      const nics = await d.nics(w);
      const spec = nics.length ? { ...launch, nics } : launch;
      const host = d.settings.host();
      const { ports: [port, nbdPort], release } = await holdPorts(host, d.settings.portMin, d.settings.portMax, 2);
      try {
        await live.prepareIncoming(spec, { host, port, nbdPort });
      } finally {
        // QEMU listens on them now (or never will): the kernel keeps them from here on.
        release();
      }
      const arrived = live.finishIncoming(w.instanceId, d.settings.timeoutMs);
      arrived.catch(() => undefined);
      await report('target-ready', { type: 'ReportMigrationTargetReady', data: { nodeId: w.nodeId, migration: m.id, endpoint: { host, port, nbdPort } } });
      await arrived;
    } catch (e) {
      log.warn({ err: e }, 'incoming migration failed; removing what was prepared');
      await d.driver.destroy(w.instanceId).catch((err) => log.warn({ err }, 'cleanup after a failed incoming migration failed'));
      await fail(`on the target: ${(e as Error).message}`);
      return;
    }
    // The guest waits here (QEMU -S) until the log says it moved: a move given up meanwhile stays on the source.
    const position = await report('migrated', { type: 'ReportInstanceMigrated', data: { nodeId: w.nodeId, migration: m.id } });
    if (d.reporter && position === undefined) {
      log.warn('the move was given up before the guest arrived here; removing it (it runs on the source)');
      await d.driver.destroy(w.instanceId).catch((err) => log.warn({ err }, 'removing a destination of a move given up failed'));
      return;
    }
    await live.resume(w.instanceId);
    recordArrival(d.store, w, position);
    log.info('guest arrived and runs here');
    return;
  }

  // migrate-out
  if (!live || !m.endpoint) {
    await fail(!live ? `the ${d.driver.kind} driver cannot migrate live` : 'no destination address');
    return;
  }
  // The guest paused at the switch, its devices' state unsent: the switch goes on once the log has it (a move given up
  // meanwhile is refused, and the guest runs on here). The log knows the switch is happening before it can have happened.
  const atSwitch = async () => {
    const position = await report('switching', { type: 'ReportMigrationProgress', data: { nodeId: w.nodeId, migration: m.id, phase: 'switching', percent: 100 } });
    return !d.reporter || position !== undefined;
  };
  try {
    let last = '';
    const tuning = { downtimeLimitMs: d.settings.downtimeLimitMs, timeoutMs: d.settings.timeoutMs, progressEveryMs: 1_000 };
    const r = await live.migrateOut(w.instanceId, m.endpoint, tuning, (p) => {
      const key = `${p.phase}:${p.percent}`;
      if (key === last) return;
      last = key;
      void report(`progress:${key}`, { type: 'ReportMigrationProgress', data: { nodeId: w.nodeId, migration: m.id, ...p } })?.catch(() => undefined);
    }, atSwitch);
    log.info({ totalMs: r.totalMs, downtimeMs: r.downtimeMs }, 'migrated');
  } catch (e) {
    const taken = await fail((e as Error).message);
    if (d.reporter && taken === undefined) {
      // Refused: the log has the move completed (the destination loaded the state, reported it and runs the guest;
      // its word never reached here). This copy, paused since the switch, must never run again.
      log.warn({ err: e }, 'migration given up here, but the log has it completed: removing the guest here');
      await d.driver.destroy(w.instanceId);
      d.store.recordWork(w, 'control-plane', true);
      return;
    }
    // In doubt (the deadline after the switch began), the guest was left paused: the log has the move failed now, so it runs here.
    if (e instanceof SwitchInDoubt) await live.giveUpSwitch(w.instanceId);
    log.warn({ err: e }, 'migration failed; the guest runs on here');
    await endDestination(m.endpoint);
    return;
  }
  const answer = await ask('migrated', { type: 'ReportInstanceMigrated', data: { nodeId: w.nodeId, migration: m.id } });
  if (answer && 'declined' in answer) {
    if (answer.declined === Code.FAILED_PRECONDITION) {
      // The move was given up while QEMU carried it on, so the guest belongs here; the target removes its copy.
      // QEMU keeps a migrated source paused (postmigrate) with its disks as at the switch: it runs on from there.
      log.warn('the stream completed after the move was given up; the guest runs on here');
      await live.resume(w.instanceId);
      return;
    }
    // Any other refusal says the instance is no longer this node's: the target's own report of the switch landed
    // first (this node may not report on it any more: PERMISSION_DENIED), or it was deleted. Never resumed here.
    log.info({ reason: answer.reason }, 'the log has the guest elsewhere already; removing the copy here');
  }
  await d.driver.destroy(w.instanceId);
  d.store.recordWork(w, 'control-plane', true);
};

/**
 * A destination still waiting for its stream (this source failed before sending it, e.g. a
 * mirror into it failed) would wait out its whole timeout, holding its QEMU and the volume
 * copies made for it: it is sent a stream that is not one, so its incoming migration fails
 * now and its agent removes it. A destination that has taken the stream listens no more,
 * so this reaches nothing then.
 */
const endDestination = (e: { host: string; port: number }): Promise<void> =>
  new Promise((resolve) => {
    const s = net.connect(e.port, e.host, () => s.end('not a migration stream: the source gave up\n'));
    s.setTimeout(2_000, () => s.destroy());
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  });
