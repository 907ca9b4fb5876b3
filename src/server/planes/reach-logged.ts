import type { EventStore } from '../../eventstore/port';
import type { ProjectionRuntime } from '../../projections/projection-runtime';

/**
 * For a watch resumed on this replica from a revision another one sent: waits
 * (up to 5 s) until this replica's read models applied it, if the log has it.
 * A revision beyond the log's head is refused at once, as on one replica.
 */
export const reachLogged =
  (store: Pick<EventStore, 'head'>, projections: Pick<ProjectionRuntime, 'waitFor'>) =>
  async (position: number): Promise<void> => {
    if (position > (await store.head())) throw new Error('beyond the head of the log');
    await projections.waitFor(position, 5_000);
  };
