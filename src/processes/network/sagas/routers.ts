import type { Origin } from '../../../bus/dispatcher';
import { networkFacts } from '../../../commands/network';
import { requireExternalNetwork } from '../../../commands/network/fields';
import { interfaceOn } from '../../../commands/router';
import { allocationOf } from '../../../commands/subnet';
import { AlreadyExists, Code, FailedPrecondition, InvalidArgument, NotFound } from '../../../errors';
import { parseAddress } from '../../../domain/ipam/address';
import { derivedId } from '../ids';
import { ownerKey } from '../reservations';
import { isCode, type SagaContext } from './context';
import type { PortSagas } from './ports';

export interface GatewayRequest {
  readonly networkId: string;
  readonly enableSnat: boolean;
  /** Empty: one address from the external network's first subnet with room. */
  readonly fixedIps: readonly { subnetId: string; ipAddress: string }[];
}

export class RouterSagas {
  constructor(
    private readonly c: SagaContext,
    private readonly ports: PortSagas,
  ) {}

  /** router CreateRouter → (gateway) AllocateIp per address → SetExternalGateway; undo: ReleaseIp, then DeleteRouter. */
  async create(o: Origin, id: string, r: { name: string; tenantId: string; distributed: boolean; gateway?: GatewayRequest }): Promise<void> {
    const { models } = this.c;
    if (models.routers.state(id)?.status === 'active') return;
    const gw = r.gateway;
    const facts = gw ? networkFacts(gw.networkId, models.networks.state(gw.networkId)) : undefined;
    if (gw) requireExternalNetwork('external_gateway.network_id', facts!);
    gw?.fixedIps.forEach((f, i) => {
      const s = models.subnets.state(f.subnetId);
      if (s?.status !== 'active') throw new NotFound(`external_gateway.external_fixed_ips[${i}].subnet_id: subnet ${f.subnetId} not found`);
      if (s.networkId !== gw.networkId)
        throw new InvalidArgument(`external_gateway.external_fixed_ips[${i}].subnet_id: subnet ${f.subnetId} is on network ${s.networkId}, not ${gw.networkId}`);
    });
    await this.c.create(o, ownerKey('router', id), async (saga) => {
      await saga.step(
        'create-router',
        'router',
        id,
        { type: 'CreateRouter', data: { name: r.name, tenantId: r.tenantId, distributed: r.distributed } },
        { type: 'DeleteRouter', data: {} },
      );
      if (!gw) return;
      const fixedIps = [];
      const wanted = gw.fixedIps.length > 0 ? gw.fixedIps.map((f, i) => ({ ...f, i })) : undefined;
      const candidates = wanted ?? models.subnetsFor(gw.networkId).map((subnetId, i) => ({ subnetId, ipAddress: '', i }));
      if (candidates.length === 0) throw new FailedPrecondition(`external_gateway.network_id: network ${gw.networkId} has no subnet to take a gateway address from`);
      for (const c of candidates) {
        const allocationId = derivedId(id, 'gateway', String(c.i), c.subnetId);
        try {
          await saga.step(
            `allocate-gateway:${c.i}`,
            'subnet',
            c.subnetId,
            {
              type: 'AllocateIp',
              data: { allocationId, ipAddress: c.ipAddress, macAddress: '', instanceId: '', portId: '', hostname: '', owner: { kind: 'router_gateway', id }, networkId: gw.networkId },
            },
            { type: 'ReleaseIp', data: { ipAddress: '', allocationId } },
          );
        } catch (e) {
          if (!wanted && isCode(e, Code.RESOURCE_EXHAUSTED) && c.i + 1 < candidates.length) continue;
          throw e;
        }
        fixedIps.push({ subnetId: c.subnetId, ipAddress: allocationOf(models.subnets.state(c.subnetId)!, allocationId)!.ipAddress, allocationId });
        if (!wanted) break; // one address, from the first subnet with room
      }
      await saga.step('set-gateway', 'router', id, { type: 'SetExternalGateway', data: { network: facts, enableSnat: gw.enableSnat, fixedIps } });
    });
  }

  /** router DeleteRouter (refused with interfaces) → release the gateway's addresses. */
  delete(o: Origin, id: string): Promise<void> {
    return this.c.end(o, ownerKey('router', id), [{ name: 'delete-router', aggregateType: 'router', aggregateId: id, command: { type: 'DeleteRouter', data: {} } }]);
  }

  /**
   * The CreatePort steps for a router_interface port on the subnet's gateway
   * address (only such a port gets it, once: one router per subnet) →
   * router AddInterface. Answers the interface's port id.
   */
  async addInterface(o: Origin, routerId: string, subnetId: string, portId: string): Promise<string> {
    const { models } = this.c;
    const router = models.routers.state(routerId);
    if (router?.status !== 'active') throw new NotFound(`router_id: router ${routerId} not found`);
    const subnet = models.subnets.state(subnetId);
    if (subnet?.status !== 'active') throw new NotFound(`subnet_id: subnet ${subnetId} not found`);
    const existing = interfaceOn(router, subnetId);
    if (existing) {
      if (existing.portId === portId) return portId; // a retried request
      throw new AlreadyExists(`router ${routerId} already has an interface on subnet ${subnetId} (port ${existing.portId})`);
    }
    // One router per subnet: the gateway address is given out once. Say which router holds it.
    const held = subnet.allocations.get(parseAddress('gateway_ip', subnet.gatewayIp).value);
    if (held?.owner.kind === 'router_interface') {
      const holder = models.ports.state(held.owner.id)?.deviceId;
      throw new AlreadyExists(`subnet_id: subnet ${subnetId} is already attached to router ${holder || '(being removed)'} through port ${held.owner.id}`);
    }
    await this.c.create(o, ownerKey('port', portId), async (saga) => {
      await this.ports.steps(saga, portId, {
        networkId: subnet.networkId,
        subnetId,
        name: `router-interface-${routerId}`.slice(0, 255),
        macAddress: '',
        ipAddress: subnet.gatewayIp,
        securityGroups: [],
        bindingType: 'unspecified',
        deviceOwner: 'router_interface',
        deviceId: routerId,
      });
      await saga.step('add-interface', 'router', routerId, {
        type: 'AddInterface',
        data: { subnetId, portId, networkId: subnet.networkId, cidr: subnet.cidr, ipAddress: subnet.gatewayIp, gatewayIp: subnet.gatewayIp },
      });
    });
    // The undo of CreatePort deleted the port; what it held is settled by the port's owner key on failure too.
    return portId;
  }

  /** router RemoveInterface (refused while routes or floating IPs use it) → DeletePort{asOwner: router} → its follow-ups. */
  async removeInterface(o: Origin, routerId: string, subnetId: string): Promise<void> {
    const router = this.c.models.routers.state(routerId);
    if (router?.status !== 'active') throw new NotFound(`router_id: router ${routerId} not found`);
    const itf = interfaceOn(router, subnetId);
    if (!itf) throw new NotFound(`subnet_id: router ${routerId} has no interface on subnet ${subnetId}`);
    await this.c.end(o, ownerKey('port', itf.portId), [
      { name: 'remove-interface', aggregateType: 'router', aggregateId: routerId, command: { type: 'RemoveInterface', data: { subnetId } } },
      { name: 'delete-interface-port', aggregateType: 'port', aggregateId: itf.portId, command: { type: 'DeletePort', data: { asOwner: routerId } } },
    ]);
  }
}
