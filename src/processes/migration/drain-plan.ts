import type { InstanceState } from '../../commands/instance';

/**
 * Which instances of a draining node a drain round starts moving now, and when to look
 * again. Pure. Moves under way count against the limit; an instance whose last move
 * failed less than retryMs ago waits (else a target that always fails would be tried in a
 * tight loop, each failure a change that starts the next round). RUNNING VMs move live;
 * containers, and STOPPED VMs (with their disks), move cold (moveIsLive).
 */
export const drainRound = (here: readonly InstanceState[], maxParallel: number, nowMs: number, retryMs: number): { start: InstanceState[]; againInMs?: number } => {
  let free = maxParallel - here.filter((s) => s.migration).length;
  const start: InstanceState[] = [];
  let again: number | undefined;
  const soonest = (ms: number) => (again = again === undefined ? ms : Math.min(again, ms));
  for (const s of here) {
    if (s.migration || s.pending || !movable(s)) continue;
    const wait = s.lastMigrationFailedAt ? s.lastMigrationFailedAt.getTime() + retryMs - nowMs : 0;
    if (wait > 0) {
      soonest(wait);
      continue;
    }
    if (free <= 0) break;
    start.push(s);
    free--;
  }
  if (here.length) soonest(retryMs);
  return { start, ...(again !== undefined ? { againInMs: again } : {}) };
};

/** A drain moves RUNNING and STOPPED instances (a cold move carries a stopped one, a VM's disks with it). */
const movable = (s: InstanceState): boolean => s.status === 'RUNNING' || s.status === 'STOPPED';

/**
 * How a drain moves it: a container cold (its processes are not checkpointed), a STOPPED VM cold
 * (nothing runs to migrate; its disks are copied), a RUNNING VM live (it keeps running).
 */
export const moveIsLive = (s: Pick<InstanceState, 'kind' | 'status'>): boolean => s.kind !== 'container' && s.status === 'RUNNING';
