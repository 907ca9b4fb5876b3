import type { InstanceState } from '../../commands/instance';

/**
 * Which instances of a draining node a drain round starts moving now, and when to look
 * again. Pure. Moves under way count against the limit; an instance whose last move
 * failed less than retryMs ago waits (else a target that always fails would be tried in a
 * tight loop, each failure a change that starts the next round).
 */
export const drainRound = (here: readonly InstanceState[], maxParallel: number, nowMs: number, retryMs: number): { start: InstanceState[]; againInMs?: number } => {
  let free = maxParallel - here.filter((s) => s.migration).length;
  const start: InstanceState[] = [];
  let again: number | undefined;
  const soonest = (ms: number) => (again = again === undefined ? ms : Math.min(again, ms));
  for (const s of here) {
    if (s.migration || s.pending || s.status !== 'RUNNING') continue;
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
