import type { Logger } from 'pino';
import type { Nic } from '../sdn/driver';
import type { ImagePreparation, InstanceDriver } from './drivers/driver';
import type { LocalStore } from './local-store';
import type { InstanceWork } from './protocol';
import type { Reporter } from './reporter';

/** What a host's work of a move (live or cold) is done with. */
export interface MoveWorkDeps {
  readonly driver: InstanceDriver;
  readonly images: ImagePreparation;
  readonly store: LocalStore;
  readonly reporter?: Reporter;
  readonly log: Logger;
  /** The work's ports made here (tap or veth, filtering, anti-spoofing) and their NICs, as for a create. */
  readonly nics: (w: InstanceWork) => Promise<Nic[]>;
}

/**
 * What one host says about a move (live or cold), each report with a stable id
 * (instance, move, node, step), so a report repeated after an agent restart adds nothing.
 */
export const moveReports = (reporter: Reporter | undefined, w: InstanceWork) => {
  const m = w.migration!;
  /** The control plane's answer to a report: its commit's position, or why it declined it (undefined without a reporter). */
  const ask = (what: string, command: Parameters<Reporter['answer']>[3]) =>
    reporter?.answer(`agent:${w.instanceId}:migration:${m.id}:${w.nodeId}:${what}`, 'instance', w.instanceId, command, w.correlationId);
  /** The report's log position; undefined when declined (or without a reporter). */
  const report = async (what: string, command: Parameters<Reporter['answer']>[3]) => {
    const a = await ask(what, command);
    return a && 'position' in a ? a.position : undefined;
  };
  const fail = (reason: string) => report('failed', { type: 'FailMigration', data: { nodeId: w.nodeId, migration: m.id, reason } });
  return { report, ask, fail };
};

/** This host did the instance's current generation: a desired-state answer older than the move's report leaves it alone. */
export const recordArrival = (store: LocalStore, w: InstanceWork, position: number | undefined): void => {
  const { migration: _m, ...work } = w;
  store.recordWork({ ...work, action: 'create', position: Math.max(position ?? 0, w.position) }, 'control-plane', false);
};
