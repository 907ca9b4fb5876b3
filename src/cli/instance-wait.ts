import { EventType, InstanceState } from '../gen/hypervisor/v1/common';
import type { Instance, InstanceEvent, WatchInstanceRequest } from '../gen/hypervisor/v1/compute';
import type { Ctx } from './context';
import { NAMES } from './names';
import { CliError, EXIT } from './exit';
import { enumWord } from './format';

export const stateWord = (s: InstanceState): string => enumWord(InstanceState, 'INSTANCE_STATE_', s);

/** The instance's own watch, from its current state on (since_revision 0: it comes first, as ADDED). */
export const watchInstance = (ctx: Ctx, instanceId: string): AsyncGenerator<InstanceEvent> =>
  ctx.watch<WatchInstanceRequest, InstanceEvent>(ctx.compute, ctx.compute.watchInstance, { instanceId, nodeId: '', sinceRevision: 0n });

/** How an instance ended up elsewhere than where it was asked to go: the message and the documented exit code. */
export const endedOutside = (i: Instance | undefined, label: string, deleted: boolean): CliError => {
  if (deleted || !i) return new CliError(`instance ${label} was deleted`, EXIT.INSTANCE_DELETED);
  if (i.state === InstanceState.INSTANCE_STATE_FAILED)
    return new CliError(`instance ${label} FAILED: ${i.stateReason || 'no reason given'}`, EXIT.INSTANCE_FAILED);
  return new CliError(`instance ${label} is ${stateWord(i.state)}${i.stateReason ? `: ${i.stateReason}` : ''}`, EXIT.INSTANCE_STOPPED);
};

/**
 * Follows WatchInstance, printing each state it passes through (to stderr,
 * so stdout keeps the printer's output), until the instance reaches `target`
 * (an instance state, or deleted). Reaching FAILED, being deleted, or
 * stopping on the way is an error with its own exit code.
 */
export const waitForInstance = async (
  ctx: Ctx,
  id: string,
  label: string,
  target: InstanceState | 'DELETED',
  timeoutSeconds: number,
  /** The instance as the request answered it: its state is shown first (the watch may start past it). */
  answered?: Instance,
): Promise<Instance | undefined> => {
  const watch = watchInstance(ctx, id);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new CliError(`DEADLINE_EXCEEDED: instance ${label} did not get ${target === 'DELETED' ? 'deleted' : stateWord(target)} in ${timeoutSeconds}s`, EXIT.DEADLINE_EXCEEDED)),
      timeoutSeconds * 1000,
    );
  });
  const follow = async (): Promise<Instance | undefined> => {
    await NAMES.need(ctx, ['node']);
    const describe = (i: Instance) =>
      `${stateWord(i.state)}${i.nodeId ? ` on node ${NAMES.of('node', i.nodeId)}` : ''}${i.ipAddress ? `, ${i.ipAddress}` : ''}${i.stateReason ? ` (${i.stateReason})` : ''}`;
    let shown = answered ? describe(answered) : '';
    if (answered) process.stderr.write(`instance ${label}: ${shown}\n`);
    let last: Instance | undefined = answered;
    for await (const e of watch) {
      if (e.type === EventType.EVENT_TYPE_DELETED) {
        process.stderr.write(`instance ${label}: DELETED\n`);
        if (target === 'DELETED') return last;
        throw endedOutside(e.instance, label, true);
      }
      const i = e.instance;
      if (!i) continue;
      last = i;
      const line = describe(i);
      if (line !== shown) process.stderr.write(`instance ${label}: ${line}\n`);
      shown = line;
      if (i.state === target) return i;
      const settledElsewhere =
        i.state === InstanceState.INSTANCE_STATE_FAILED ||
        (target === InstanceState.INSTANCE_STATE_RUNNING && i.state === InstanceState.INSTANCE_STATE_STOPPED && e.type !== EventType.EVENT_TYPE_ADDED);
      if (settledElsewhere && target !== 'DELETED') throw endedOutside(i, label, false);
    }
    throw new CliError(`UNAVAILABLE: the watch of instance ${label} ended`, EXIT.UNAVAILABLE);
  };
  const followed = async (): Promise<Instance | undefined> => {
    try {
      return await follow();
    } catch (e) {
      // Gone before the watch began: the watch has nothing to show.
      if ((e as { code?: number }).code !== 5) throw e;
      process.stderr.write(`instance ${label}: DELETED\n`);
      if (target === 'DELETED') return undefined;
      throw endedOutside(undefined, label, true);
    }
  };
  try {
    return await Promise.race([followed(), timeout]);
  } finally {
    clearTimeout(timer);
    void watch.return(undefined);
  }
};
