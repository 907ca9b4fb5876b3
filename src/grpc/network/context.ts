import type { Logger } from 'pino';
import type { Dispatcher } from '../../bus/dispatcher';
import { requireToken } from '../../commands/network/fields';
import type { NodeState } from '../../commands/node';
import { InvalidArgument, NotFound } from '../../errors';
import type { Node } from '../../gen/hypervisor/v1/cluster';
import type { NetworkOperations } from '../../processes/network/operations';
import type { EntityReadModel } from '../../projections/entity-read-model';
import type { NetworkReadModels } from '../../projections/network-read-models';
import type { Pager } from '../paging';

export interface NetworkServiceDeps {
  readonly dispatcher: Dispatcher;
  readonly models: NetworkReadModels;
  readonly ops: NetworkOperations;
  /** VTEPs come from registered nodes. */
  readonly nodes: EntityReadModel<NodeState, Node>;
  readonly pager: Pager;
  readonly log: Logger;
}

export { originOf } from '../request-context';

/**
 * A resource the request names: a well-formed id (INVALID_ARGUMENT naming
 * the field) that the read model has (NOT_FOUND otherwise).
 */
export const required = <V>(model: { get(id: string): V | undefined }, kind: string, field: string, id: string): V => {
  requireToken(field, id);
  const v = model.get(id);
  if (v === undefined) throw new NotFound(`${field}: ${kind} ${id} not found`);
  return v;
};

/** An enum field: a value the enum does not define is refused, naming the field. */
export const enumValue = (field: string, v: number, e: Record<string, string | number>): number => {
  if (!Number.isInteger(v) || v < 0 || !Object.values(e).includes(v)) throw new InvalidArgument(`${field}: ${v} is not a known value`);
  return v;
};

/** The answer after a write: the read model has applied it (the dispatcher waited), so it is there. */
export const written = <V>(model: { get(id: string): V | undefined }, kind: string, id: string): V => {
  const v = model.get(id);
  if (v === undefined) throw new NotFound(`${kind} ${id} not found (deleted meanwhile)`);
  return v;
};
