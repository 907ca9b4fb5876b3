import type { Logger } from 'pino';
import { systemOrigin } from '../../bus/dispatcher';
import type { NetworkReadModels } from '../../projections/network-read-models';
import type { ProjectionRuntime } from '../../projections/projection-runtime';
import type { NetworkOperations } from '../network/operations';
import { Controller } from '../controller';
import { DHCP_PORT_PREFIX, dhcpPortId, isDhcpPort } from './host-plan';

const ALL = 'all';

/**
 * DHCP ports, as Neutron's DHCP agent has them: each node that has
 * instance ports on a subnet with DHCP on serves it from a port of its own
 * on that subnet (`dhcp:<nodeId>`, an address from the subnet's pools),
 * made while the node has such ports and deleted when the last one leaves.
 * Level-triggered over the whole model: wanted set × existing set.
 */
export class DhcpPorts extends Controller {
  constructor(
    private readonly models: NetworkReadModels,
    private readonly ops: NetworkOperations,
    private readonly log: Logger,
  ) {
    super('dhcp-ports', log, 1);
  }

  start(runtime: ProjectionRuntime): void {
    this.watch(
      runtime.commits$.subscribe((commit) => {
        if (commit.some((e) => e.aggregateType === 'port' || e.aggregateType === 'subnet')) this.queue.add(ALL);
      }),
    );
    this.queue.resyncEvery(30_000, () => [ALL]);
    this.queue.add(ALL);
  }

  /** port id → what it should be, for every DHCP port the model asks for. */
  private wanted(): Map<string, { subnetId: string; networkId: string; nodeId: string }> {
    const want = new Map<string, { subnetId: string; networkId: string; nodeId: string }>();
    for (const id of this.models.ports.ids()) {
      const p = this.models.ports.state(id);
      if (p?.status !== 'active' || !p.instanceId || !p.nodeId || p.deviceOwner || isDhcpPort(p)) continue;
      const n = this.models.networks.state(p.networkId);
      for (const subnetId of Object.keys(n?.subnets ?? {})) {
        const s = this.models.subnets.state(subnetId);
        if (s?.status === 'active' && s.enableDhcp && s.ipVersion === 4) want.set(dhcpPortId(this.models.ports, subnetId, p.nodeId), { subnetId, networkId: p.networkId, nodeId: p.nodeId });
      }
    }
    return want;
  }

  /** One key, ALL: the wanted set is made from the whole model each time. */
  protected async reconcile(): Promise<void> {
    const want = this.wanted();
    for (const [id, w] of want) {
      if (this.models.ports.state(id)?.status === 'active') continue;
      const o = systemOrigin('dhcp-ports', `dhcp-ports:create:${id}`, { correlationId: id, causationId: w.subnetId });
      try {
        await this.ops.ports.create(o, id, {
          networkId: w.networkId,
          subnetId: w.subnetId,
          name: `${DHCP_PORT_PREFIX}${w.nodeId}`,
          macAddress: '',
          ipAddress: '',
          securityGroups: [],
          bindingType: 'unspecified',
          deviceOwner: 'network:dhcp',
          deviceId: w.nodeId,
        });
      } catch (err) {
        // A full subnet has no address for a DHCP server: its hosts' guests get none by DHCP, the rest goes on.
        this.log.warn({ err, portId: id, subnetId: w.subnetId, nodeId: w.nodeId }, 'cannot make a DHCP port');
      }
    }
    for (const id of this.models.ports.ids()) {
      const p = this.models.ports.state(id);
      if (p?.status !== 'active' || !isDhcpPort(p) || want.has(id)) continue;
      // As its owner (ports made before DHCP ports had one have none, and '' is what they take).
      await this.ops.ports.delete(systemOrigin('dhcp-ports', `dhcp-ports:delete:${id}`, { correlationId: id, causationId: id }), id, p.deviceId);
    }
  }
}
