import { type Origin, step } from '../../../bus/dispatcher';
import { networkFacts } from '../../../commands/network';
import { requireExternalNetwork } from '../../../commands/network/fields';
import { allocationOf } from '../../../commands/subnet';
import { Code, FailedPrecondition, NotFound, ResourceExhausted } from '../../../errors';
import { ownerKey } from '../reservations';
import type { Saga } from '../saga';
import { isCode, type SagaContext } from './context';

export class FloatingIpSagas {
  constructor(private readonly c: SagaContext) {}

  /** An address from the external network's IPv4 subnets (first with room) → floating_ip CreateFloatingIp; undo: ReleaseIp. */
  async create(o: Origin, id: string, networkId: string, tenantId: string): Promise<void> {
    if (this.c.models.floatingIps.state(id)?.status === 'active') return;
    await this.c.create(o, ownerKey('floating_ip', id), (saga) => this.createSteps(saga, id, networkId, tenantId));
  }

  /** The steps of CreateFloatingIP inside a caller's saga. */
  async createSteps(saga: Saga, id: string, networkId: string, tenantId: string): Promise<void> {
    const { models } = this.c;
    const facts = networkFacts(networkId, models.networks.state(networkId));
    requireExternalNetwork('floating_network_id', facts);
    const subnets = models.ipv4SubnetsFor(networkId);
    if (subnets.length === 0) throw new FailedPrecondition(`floating_network_id: network ${networkId} has no IPv4 subnet to take a floating IP from`);
    for (const [i, subnetId] of subnets.entries()) {
      try {
        await saga.step(
          `allocate-floating-ip:${subnetId}`,
          'subnet',
          subnetId,
          {
            type: 'AllocateIp',
            data: { allocationId: id, ipAddress: '', macAddress: '', instanceId: '', portId: '', hostname: '', owner: { kind: 'floating_ip', id }, networkId },
          },
          { type: 'ReleaseIp', data: { ipAddress: '', allocationId: id } },
        );
      } catch (e) {
        if (isCode(e, Code.RESOURCE_EXHAUSTED)) {
          if (i + 1 < subnets.length) continue;
          throw new ResourceExhausted(`floating_network_id: every IPv4 subnet of network ${networkId} is full`);
        }
        throw e;
      }
      const floatingIp = allocationOf(models.subnets.state(subnetId)!, id)!.ipAddress;
      await saga.step(
        'create-floating-ip',
        'floating_ip',
        id,
        { type: 'CreateFloatingIp', data: { network: facts, subnetId, floatingIp, tenantId } },
        { type: 'DeleteFloatingIp', data: {} },
      );
      return;
    }
  }

  /** router RouteFloatingIp → port AttachFloatingIp → floating_ip AssociateFloatingIp; undo: DetachFloatingIp, UnrouteFloatingIp. */
  async associate(o: Origin, id: string, portId: string, fixedIp: string): Promise<void> {
    await this.c.create(o, ownerKey('floating_ip', id), (saga) => this.associateSteps(saga, id, portId, fixedIp));
  }

  /** The steps of AssociateFloatingIP inside a caller's saga. */
  async associateSteps(saga: Saga, id: string, portId: string, fixedIp: string): Promise<void> {
    const { models } = this.c;
    const fip = models.floatingIps.state(id);
    if (fip?.status !== 'active') throw new NotFound(`floating_ip_id: floating IP ${id} not found`);
    const port = models.ports.state(portId);
    if (port?.status !== 'active') throw new NotFound(`port_id: port ${portId} not found`);
    if (fip.portId && fip.portId !== portId) throw new FailedPrecondition(`floating IP ${id} is associated with port ${fip.portId}; disassociate it first`);
    if (!port.ipAddress || !port.subnetId) throw new FailedPrecondition(`port_id: port ${portId} has no fixed IP to associate a floating IP with`);
    const routerId = fip.routerId || models.routerReaching(fip.floatingNetworkId, port.subnetId);
    if (!routerId)
      throw new FailedPrecondition(
        `port_id: no router connects subnet ${port.subnetId} of port ${portId} to external network ${fip.floatingNetworkId}; ` +
          'add a router with an external gateway on that network and an interface on the subnet',
      );
    await saga.step(
      'route',
      'router',
      routerId,
      { type: 'RouteFloatingIp', data: { floatingIpId: id, floatingNetworkId: fip.floatingNetworkId, subnetId: port.subnetId } },
      { type: 'UnrouteFloatingIp', data: { floatingIpId: id } },
    );
    await saga.step(
      'attach',
      'port',
      portId,
      { type: 'AttachFloatingIp', data: { floatingIpId: id, fixedIp: fixedIp || port.ipAddress } },
      { type: 'DetachFloatingIp', data: { floatingIpId: id } },
    );
    await saga.step('associate', 'floating_ip', id, {
      type: 'AssociateFloatingIp',
      data: { portId, fixedIp: models.ports.state(portId)!.ipAddress, routerId },
    });
  }

  /** floating_ip DisassociateFloatingIp → port DetachFloatingIp, router UnrouteFloatingIp. */
  disassociate(o: Origin, id: string): Promise<void> {
    return this.c.end(o, ownerKey('floating_ip', id), [
      { name: 'disassociate', aggregateType: 'floating_ip', aggregateId: id, command: { type: 'DisassociateFloatingIp', data: {} } },
    ]);
  }

  /** floating_ip DeleteFloatingIp (disassociates first) → detach, unroute, release the address. */
  delete(o: Origin, id: string): Promise<void> {
    const command = { type: 'DeleteFloatingIp', data: {} };
    return this.c.end(o, ownerKey('floating_ip', id), [{ name: `delete-floating-ip:${id}`, aggregateType: 'floating_ip', aggregateId: id, command }], step(o, id));
  }
}
