import type { GuardedServer } from '../../grpc/guarded-server';
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
import { RoutedHostPlans } from '../../processes/dataplane/router-plans';
import { RouterPlacement } from '../../processes/router-placement/router-placement';
import { queueSingleton, type Singleton } from '../../processes/singletons/singleton-leases';
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
  /** Routers (issue 11): the plans agents get hold the routers placed on their node, and reach those elsewhere. */
  readonly routed: RoutedHostPlans;
  placement?: RouterPlacement;

  constructor(private readonly nodes: EntityReadModel<NodeState, Node>) {
    this.plans = new HostPlans(this.models, nodes);
    this.routed = new RoutedHostPlans(this.plans, this.models, nodes);
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

  async start({ cfg, nc, projections, dispatcher, serving, log }: PlaneContext): Promise<void> {
    const gc = { graceMs: cfg.networkGcGraceSeconds * 1000, sweepMs: cfg.networkGcSweepSeconds * 1000, firstSweepAfter: serving };
    const reconciler = (this.reconcilerStarted = new NetworkReconciler(this.models, this.reservations, projections, dispatcher, gc, log));
    this.opsStarted = new NetworkOperations(dispatcher, this.models, reconciler, log);
    // Singletons: paused until this replica holds their leases.
    void reconciler.pause();
    reconciler.start();
    // The data plane's control side: the agents' plan requests and change notes; a DHCP port per serving node and subnet.
    this.dataplaneApi = new DataplaneApi(nc, this.routed, projections, log);
    this.dataplaneApi.start();
    this.placement = new RouterPlacement(this.models.routers, this.nodes, dispatcher, { resyncMs: 30_000, retryMs: 5_000, firstResyncAfter: serving }, log);
    void this.placement.pause();
    this.placement.start(projections);
    this.dhcpPorts = new DhcpPorts(this.models, this.opsStarted, log);
    void this.dhcpPorts.pause();
    this.dhcpPorts.start(projections);
  }

  addServices(grpc: GuardedServer, { dispatcher, pager, log }: PlaneContext): string[] {
    grpc.addService(NetworkServiceService, networkService({ dispatcher, models: this.models, ops: this.ops, nodes: this.nodes, pager, log }));
    return ['hypervisor.v1.NetworkService'];
  }

  singletons(): Singleton[] {
    return [
      // The reconciler's queue (releases at a caller's request run on any replica) and the DHCP ports it keeps.
      queueSingleton('network-reconciler', this.reconciler, started('network', 'the DHCP ports', this.dhcpPorts)),
      queueSingleton('router-placement', started('network', 'the router placement', this.placement)),
    ];
  }

  async stop(): Promise<void> {
    this.dataplaneApi?.stop();
    this.placement?.stop();
    this.dhcpPorts?.stop();
    this.reconcilerStarted?.stop();
  }
}
