import type { Logger } from 'pino';
import type { Dispatcher, Origin } from '../../bus/dispatcher';
import type { NetworkReadModels } from '../../projections/network-read-models';
import type { NetworkReconciler } from './reconciler';
import type { Saga } from './saga';
import { SagaContext } from './sagas/context';
import { FloatingIpSagas } from './sagas/floating-ips';
import { NetworkSagas } from './sagas/networks';
import { PortSagas } from './sagas/ports';
import { RouterSagas } from './sagas/routers';
import { SubnetSagas } from './sagas/subnets';

export type { PortRequest } from './sagas/ports';
export type { GatewayRequest } from './sagas/routers';

/**
 * The multi-aggregate operations of NetworkService, as sagas, one family per
 * resource (./sagas, as src/grpc/network): the sequences of
 * src/commands/network/README.md, each step a command to one aggregate,
 * each failure undone in reverse. Deletes settle their follow-ups inline
 * (through the reconciler's planner), so the answer comes once everything
 * the resource held is back. The owner being worked on is marked in flight,
 * so the reconciler does not take its reservations from under it.
 */
export class NetworkOperations {
  private readonly c: SagaContext;
  readonly networks: NetworkSagas;
  readonly subnets: SubnetSagas;
  readonly ports: PortSagas;
  readonly routers: RouterSagas;
  readonly floatingIps: FloatingIpSagas;

  constructor(dispatcher: Dispatcher, models: NetworkReadModels, reconciler: NetworkReconciler, log: Logger) {
    this.c = new SagaContext(dispatcher, models, reconciler, log);
    this.networks = new NetworkSagas(this.c);
    this.subnets = new SubnetSagas(this.c);
    this.ports = new PortSagas(this.c);
    this.routers = new RouterSagas(this.c, this.ports);
    this.floatingIps = new FloatingIpSagas(this.c);
  }

  /** A saga of the caller's own, whose steps may include the families' (ports.steps, floatingIps.createSteps, …). */
  saga(o: Origin): Saga {
    return this.c.saga(o);
  }
}
