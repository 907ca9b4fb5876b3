import type { Server } from '@grpc/grpc-js';
import type { NodeState } from '../../commands/node';
import type { Node } from '../../gen/hypervisor/v1/cluster';
import { NetworkServiceService } from '../../gen/hypervisor/v1/network';
import { networkService } from '../../grpc/network-service';
import { NetworkOperations } from '../../processes/network/operations';
import { NetworkReconciler } from '../../processes/network/reconciler';
import { NetworkReservations } from '../../processes/network/reservations';
import type { EntityReadModel } from '../../projections/entity-read-model';
import { NetworkReadModels } from '../../projections/network-read-models';
import { DataplaneApi } from '../../processes/dataplane/dataplane-api';
import { DhcpPorts } from '../../processes/dataplane/dhcp-ports';
import { HostPlans } from '../../processes/dataplane/host-plan';
import { type Plane, type PlaneContext, started } from './plane';

/** Networks, subnets, ports, routers, floating IPs, groups: read models, the reservations index, the reconciler, the sagas, NetworkService. */
export class NetworkPlane implements Plane {
  readonly models = new NetworkReadModels();
  readonly reservations = new NetworkReservations();
  private reconcilerStarted?: NetworkReconciler;
  private opsStarted?: NetworkOperations;
  /** Each node's network plan (with instance work and on request). */
  readonly plans: HostPlans;
  private dataplaneApi?: DataplaneApi;
  private dhcpPorts?: DhcpPorts;

  constructor(private readonly nodes: EntityReadModel<NodeState, Node>) {
    this.plans = new HostPlans(this.models, nodes);
  }

  get readModels() {
    return [...this.models.all, this.reservations];
  }

  get reconciler(): NetworkReconciler {
    return started('network', 'the reconciler', this.reconcilerStarted);
  }

  get ops(): NetworkOperations {
    return started('network', 'the operations', this.opsStarted);
  }

  async start({ cfg, nc, projections, dispatcher, log }: PlaneContext): Promise<void> {
    const gc = { graceMs: cfg.networkGcGraceSeconds * 1000, sweepMs: cfg.networkGcSweepSeconds * 1000 };
    const reconciler = (this.reconcilerStarted = new NetworkReconciler(this.models, this.reservations, projections, dispatcher, gc, log));
    this.opsStarted = new NetworkOperations(dispatcher, this.models, reconciler, log);
    reconciler.start();
    // The data plane's control side: the agents' plan requests and change notes; a DHCP port per serving node and subnet.
    this.dataplaneApi = new DataplaneApi(nc, this.plans, projections, log);
    this.dataplaneApi.start();
    this.dhcpPorts = new DhcpPorts(this.models, this.opsStarted, log);
    this.dhcpPorts.start(projections);
  }

  addServices(grpc: Server, { dispatcher, pager, log }: PlaneContext): string[] {
    grpc.addService(NetworkServiceService, networkService({ dispatcher, models: this.models, ops: this.ops, nodes: this.nodes, pager, log }));
    return ['hypervisor.v1.NetworkService'];
  }

  async stop(): Promise<void> {
    this.dataplaneApi?.stop();
    this.dhcpPorts?.stop();
    this.reconcilerStarted?.stop();
  }
}
