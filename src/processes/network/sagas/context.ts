import type { Logger } from 'pino';
import { type Dispatcher, type Origin, step } from '../../../bus/dispatcher';
import type { Command } from '../../../commands/command';
import { DomainError } from '../../../errors';
import type { NetworkReadModels } from '../../../projections/network-read-models';
import type { NetworkReconciler } from '../reconciler';
import { Saga } from '../saga';

/** One command of an ending: its step name and its aggregate. */
export interface EndStep {
  readonly name: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly command: Command;
}

export const isCode = (e: unknown, code: number) => e instanceof DomainError && e.code === code;

/**
 * What every family of network sagas shares: the dispatcher, the read models
 * and the reconciler (whose in-flight marks keep it off an owner a saga is
 * working on, and whose planner settles a delete's follow-ups inline).
 */
export class SagaContext {
  constructor(
    readonly dispatcher: Dispatcher,
    readonly models: NetworkReadModels,
    readonly reconciler: NetworkReconciler,
    readonly log: Logger,
  ) {}

  saga(o: Origin): Saga {
    return new Saga(this.dispatcher, o, this.log);
  }

  /** A create: one saga for the owner `key`, marked in flight meanwhile; any failure undoes its steps. */
  create<T>(o: Origin, key: string, body: (saga: Saga) => Promise<T>): Promise<T> {
    return this.reconciler.inFlight.around([key], () => this.saga(o).run(body));
  }

  /**
   * A delete (or detach): the commands that end the owner `key`, then its
   * follow-ups inline, so the answer comes once everything it held is back.
   * The ending has committed by then, so a follow-up that fails does not fail
   * the request; the reconciler's sweep gives back what is left (the owner is
   * gone: at once, no grace).
   */
  async end(o: Origin, key: string, steps: readonly EndStep[], settleAs: Origin = o): Promise<void> {
    await this.reconciler.inFlight.around([key], async () => {
      for (const s of steps) await this.dispatcher.execute(step(o, s.name), s.aggregateType, s.aggregateId, s.command);
      try {
        await this.reconciler.settle(key, settleAs);
      } catch (err) {
        this.log.warn({ err, owner: key }, 'follow-ups of a delete failed; the network reconciler will finish them');
      }
    });
  }
}
