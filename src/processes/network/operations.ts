import type { Logger } from 'pino';
import { type Dispatcher, type Origin, step } from '../../bus/dispatcher';
import { macAddressId } from '../../commands/mac_address';
import { type NetworkSpec, networkFacts } from '../../commands/network';
import { requireExternalNetwork } from '../../commands/network/fields';
import { NETWORK_POOL_ID, segmentOf } from '../../commands/network_pool';
import type { BindingType, DeviceOwner, PortState } from '../../commands/port';
import { interfaceOn, reaches } from '../../commands/router';
import { allocationOf, resolveSubnet, type SubnetRequest } from '../../commands/subnet';
import { AlreadyExists, Code, DomainError, FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted } from '../../errors';
import type { NetworkReadModels } from '../../projections/network-read-models';
import { parseAddress } from '../../sdn/ipam/address';
import { candidateMac, derivedId } from './ids';
import type { NetworkReconciler } from './reconciler';
import { ownerKey } from './reservations';
import { Saga } from './saga';

/** CreatePort as the API (or an instance) asks for it; MAC, subnet and address may be left to the system. */
export interface PortRequest {
  readonly networkId: string;
  /** '' → the network's first subnet with a free address (IPv4 first), none if it has no subnet. */
  readonly subnetId: string;
  readonly name: string;
  /** '' → derived from the port id. Canonical (parseMac) when given. */
  readonly macAddress: string;
  /** '' → the lowest free address of the subnet's pools. */
  readonly ipAddress: string;
  readonly securityGroups: readonly string[];
  readonly bindingType: BindingType;
  readonly deviceOwner: DeviceOwner;
  readonly deviceId: string;
  /** Recorded on the address's allocation. */
  readonly instanceId?: string;
  readonly hostname?: string;
}

export interface GatewayRequest {
  readonly networkId: string;
  readonly enableSnat: boolean;
  /** Empty: one address from the external network's first subnet with room. */
  readonly fixedIps: readonly { subnetId: string; ipAddress: string }[];
}

/** How many derived MACs a port tries before giving up (each collision is 1 in 2^46). */
const MAC_TRIES = 8;

const isCode = (e: unknown, code: number) => e instanceof DomainError && e.code === code;
const isV6 = (cidr: string) => cidr.includes(':');

/**
 * The multi-aggregate operations of NetworkService, as sagas: the sequences
 * of src/commands/network/README.md, each step a command to one aggregate,
 * each failure undone in reverse. Deletes settle their follow-ups inline
 * (through the reconciler's planner), so the answer comes once everything
 * the resource held is back. The owner being worked on is marked in flight,
 * so the reconciler does not take its reservations from under it.
 */
export class NetworkOperations {
  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly models: NetworkReadModels,
    private readonly reconciler: NetworkReconciler,
    private readonly log: Logger,
  ) {}

  /**
   * The follow-ups of a delete, inline: the delete itself has committed, so a
   * follow-up that fails does not fail the request; the reconciler's sweep
   * gives back what is left (the owner is deleted: at once, no grace).
   */
  private async settle(key: string, o: Origin): Promise<void> {
    try {
      await this.reconciler.settle(key, o);
    } catch (err) {
      this.log.warn({ err, owner: key }, 'follow-ups of a delete failed; the network reconciler will finish them');
    }
  }

  saga(o: Origin): Saga {
    return new Saga(this.dispatcher, o, this.log);
  }

  private exec(o: Origin, name: string, aggregateType: string, aggregateId: string, command: { type: string; data: unknown }) {
    return this.dispatcher.execute(step(o, name), aggregateType, aggregateId, command);
  }

  // Networks

  /** network_pool ReserveSegment → network CreateNetwork; undo: ReleaseSegment. vni/vlanId 0: the lowest free one. */
  async createNetwork(o: Origin, id: string, spec: NetworkSpec): Promise<void> {
    if (this.models.networks.state(id)?.status === 'active') return; // a retried request
    await this.reconciler.inFlight.around([ownerKey('network', id)], () =>
      this.saga(o).run(async (saga) => {
        let { vni, vlanId } = spec;
        if (spec.kind === 'vxlan' || spec.kind === 'vlan') {
          const requested = spec.kind === 'vxlan' ? vni : vlanId;
          await saga.step(
            'reserve-segment',
            'network_pool',
            NETWORK_POOL_ID,
            { type: 'ReserveSegment', data: { networkId: id, kind: spec.kind, segmentId: requested } },
            { aggregateType: 'network_pool', aggregateId: NETWORK_POOL_ID, command: { type: 'ReleaseSegment', data: { networkId: id } } },
          );
          const seg = segmentOf(this.models.poolState(), id);
          if (!seg) throw new Error(`network_pool holds no segment for network ${id} after reserving one`);
          if (spec.kind === 'vxlan') vni = seg.segmentId;
          else vlanId = seg.segmentId;
        }
        await saga.step('create-network', 'network', id, { type: 'CreateNetwork', data: { ...spec, vni, vlanId } });
      }),
    );
  }

  /** network DeleteNetwork (refused with subnets or ports) → release its segment. */
  async deleteNetwork(o: Origin, id: string): Promise<void> {
    const key = ownerKey('network', id);
    await this.reconciler.inFlight.around([key], async () => {
      await this.exec(o, 'delete-network', 'network', id, { type: 'DeleteNetwork', data: {} });
      await this.settle(key, o);
    });
  }

  // Subnets

  /** resolveSubnet → network AddSubnet (CIDR overlap) → subnet CreateSubnet; undo: RemoveSubnet. */
  async createSubnet(o: Origin, id: string, req: SubnetRequest): Promise<void> {
    if (this.models.subnets.state(id)?.status === 'active') return;
    const { cidr } = resolveSubnet(req);
    await this.reconciler.inFlight.around([ownerKey('subnet', id)], () =>
      this.saga(o).run(async (saga) => {
        await saga.step(
          'add-subnet',
          'network',
          req.networkId,
          { type: 'AddSubnet', data: { subnetId: id, cidr } },
          { aggregateType: 'network', aggregateId: req.networkId, command: { type: 'RemoveSubnet', data: { subnetId: id } } },
        );
        await saga.step('create-subnet', 'subnet', id, { type: 'CreateSubnet', data: req });
      }),
    );
  }

  /** subnet DeleteSubnet (refused with allocations) → network RemoveSubnet. */
  async deleteSubnet(o: Origin, id: string): Promise<void> {
    const key = ownerKey('subnet', id);
    await this.reconciler.inFlight.around([key], async () => {
      await this.exec(o, 'delete-subnet', 'subnet', id, { type: 'DeleteSubnet', data: {} });
      await this.settle(key, o);
    });
  }

  // Ports

  /** CreatePort as one saga of its own. */
  async createPort(o: Origin, id: string, req: PortRequest): Promise<PortState> {
    const existing = this.models.ports.state(id);
    if (existing?.status === 'active') return existing;
    return this.reconciler.inFlight.around([ownerKey('port', id)], () => this.saga(o).run((saga) => this.portSteps(saga, id, req)));
  }

  /**
   * The steps of CreatePort inside a caller's saga: network AddPort,
   * mac_address ReserveMac, subnet AllocateIp (allocation id = port id) and
   * security_group AttachPort (each) → port CreatePort, each registering its
   * undo (the last one DeletePort, for steps the caller adds after it). The
   * steps before CreatePort touch different aggregates and need nothing from
   * each other, so they run at once: a port costs two round trips of
   * latency, not four or more. (The address is recorded with the port's
   * first candidate MAC; in the rare case that one is taken, it is
   * allocated again with the MAC the port got.)
   */
  async portSteps(saga: Saga, id: string, req: PortRequest): Promise<PortState> {
    const { networkId } = req;
    const firstMac = req.macAddress || candidateMac(id, 0);
    const reserveMac = async (): Promise<string> => {
      for (let n = 0; ; n++) {
        const candidate = req.macAddress || candidateMac(id, n);
        try {
          await saga.step(
            `reserve-mac-${n}`,
            'mac_address',
            macAddressId(candidate),
            { type: 'ReserveMac', data: { mac: candidate, portId: id } },
            { aggregateType: 'mac_address', aggregateId: macAddressId(candidate), command: { type: 'ReleaseMac', data: { portId: id } } },
          );
          return candidate;
        } catch (e) {
          // A MAC the user asked for is theirs to change; a derived one that collides is replaced by the next.
          if (req.macAddress || !isCode(e, Code.ALREADY_EXISTS) || n + 1 >= MAC_TRIES) throw e;
        }
      }
    };
    const allocate = async (mac: string, attempt: string): Promise<{ subnetId: string; ipAddress: string }> => {
      const candidates = req.subnetId ? [req.subnetId] : this.subnetsFor(networkId);
      for (const [i, candidate] of candidates.entries()) {
        try {
          await saga.step(
            `allocate-ip${attempt}:${candidate}`,
            'subnet',
            candidate,
            {
              type: 'AllocateIp',
              data: {
                allocationId: id,
                ipAddress: req.ipAddress,
                macAddress: mac,
                instanceId: req.instanceId ?? '',
                portId: id,
                hostname: req.hostname ?? '',
                owner: { kind: req.deviceOwner === 'router_interface' ? 'router_interface' : 'port', id },
                networkId,
              },
            },
            { aggregateType: 'subnet', aggregateId: candidate, command: { type: 'ReleaseIp', data: { ipAddress: '', allocationId: id } } },
          );
        } catch (e) {
          // Chosen by the system: a full subnet passes the port on to the next one.
          if (!req.subnetId && isCode(e, Code.RESOURCE_EXHAUSTED) && i + 1 < candidates.length) continue;
          throw e;
        }
        const a = allocationOf(this.models.subnets.state(candidate)!, id);
        if (!a) throw new Error(`subnet ${candidate} shows no allocation ${id} after allocating it`);
        return { subnetId: candidate, ipAddress: a.ipAddress };
      }
      return { subnetId: '', ipAddress: '' }; // a network without subnets: a port without an address
    };

    const steps = await Promise.allSettled([
      saga.step(
        'add-port',
        'network',
        networkId,
        { type: 'AddPort', data: { portId: id } },
        { aggregateType: 'network', aggregateId: networkId, command: { type: 'RemovePort', data: { portId: id } } },
      ),
      reserveMac(),
      allocate(firstMac, ''),
      ...req.securityGroups.map((g) =>
        saga.step(
          `attach-group:${g}`,
          'security_group',
          g,
          { type: 'AttachPort', data: { portId: id } },
          { aggregateType: 'security_group', aggregateId: g, command: { type: 'DetachPort', data: { portId: id } } },
        ),
      ),
    ]);
    // Every step has answered (so each undo meets what it undoes); the first refusal is the answer.
    const failed = steps.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const mac = (steps[1] as PromiseFulfilledResult<string>).value;
    let address = (steps[2] as PromiseFulfilledResult<{ subnetId: string; ipAddress: string }>).value;
    if (mac !== firstMac && address.subnetId) {
      await saga.step('release-ip-for-mac', 'subnet', address.subnetId, { type: 'ReleaseIp', data: { ipAddress: '', allocationId: id } });
      address = await allocate(mac, '-again');
    }

    await saga.step(
      'create-port',
      'port',
      id,
      {
        type: 'CreatePort',
        data: {
          networkId,
          subnetId: address.subnetId,
          name: req.name,
          macAddress: mac,
          ipAddress: address.ipAddress,
          securityGroups: [...req.securityGroups],
          bindingType: req.bindingType,
          deviceOwner: req.deviceOwner,
          deviceId: req.deviceId,
        },
      },
      { aggregateType: 'port', aggregateId: id, command: { type: 'DeletePort', data: { asOwner: req.deviceId } } },
    );
    return this.models.ports.state(id)!;
  }

  /** The network's subnets in the order a port without a subnet tries them: IPv4 first, then in creation order. */
  subnetsFor(networkId: string): string[] {
    const subnets = Object.entries(this.models.networks.state(networkId)?.subnets ?? {});
    return [...subnets.filter(([, c]) => !isV6(c)), ...subnets.filter(([, c]) => isV6(c))].map(([id]) => id);
  }

  /** port DeletePort (refused while bound, with floating IPs, or a router's) → groups, address, MAC, network reference. */
  async deletePort(o: Origin, id: string, asOwner = ''): Promise<void> {
    const key = ownerKey('port', id);
    await this.reconciler.inFlight.around([key], async () => {
      await this.exec(o, `delete-port:${id}`, 'port', id, { type: 'DeletePort', data: { asOwner } });
      await this.settle(key, step(o, id));
    });
  }

  // Routers

  /** router CreateRouter → (gateway) AllocateIp per address → SetExternalGateway; undo: ReleaseIp, then DeleteRouter. */
  async createRouter(o: Origin, id: string, r: { name: string; tenantId: string; distributed: boolean; gateway?: GatewayRequest }): Promise<void> {
    if (this.models.routers.state(id)?.status === 'active') return;
    const gw = r.gateway;
    const facts = gw ? networkFacts(gw.networkId, this.models.networks.state(gw.networkId)) : undefined;
    if (gw) requireExternalNetwork('external_gateway.network_id', facts!);
    gw?.fixedIps.forEach((f, i) => {
      const s = this.models.subnets.state(f.subnetId);
      if (s?.status !== 'active') throw new NotFound(`external_gateway.external_fixed_ips[${i}].subnet_id: subnet ${f.subnetId} not found`);
      if (s.networkId !== gw.networkId)
        throw new InvalidArgument(`external_gateway.external_fixed_ips[${i}].subnet_id: subnet ${f.subnetId} is on network ${s.networkId}, not ${gw.networkId}`);
    });
    await this.reconciler.inFlight.around([ownerKey('router', id)], () =>
      this.saga(o).run(async (saga) => {
        await saga.step(
          'create-router',
          'router',
          id,
          { type: 'CreateRouter', data: { name: r.name, tenantId: r.tenantId, distributed: r.distributed } },
          { aggregateType: 'router', aggregateId: id, command: { type: 'DeleteRouter', data: {} } },
        );
        if (!gw) return;
        const fixedIps = [];
        const wanted = gw.fixedIps.length > 0 ? gw.fixedIps.map((f, i) => ({ ...f, i })) : undefined;
        const candidates = wanted ?? this.subnetsFor(gw.networkId).map((subnetId, i) => ({ subnetId, ipAddress: '', i }));
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
              { aggregateType: 'subnet', aggregateId: c.subnetId, command: { type: 'ReleaseIp', data: { ipAddress: '', allocationId } } },
            );
          } catch (e) {
            if (!wanted && isCode(e, Code.RESOURCE_EXHAUSTED) && c.i + 1 < candidates.length) continue;
            throw e;
          }
          fixedIps.push({ subnetId: c.subnetId, ipAddress: allocationOf(this.models.subnets.state(c.subnetId)!, allocationId)!.ipAddress, allocationId });
          if (!wanted) break; // one address, from the first subnet with room
        }
        await saga.step('set-gateway', 'router', id, { type: 'SetExternalGateway', data: { network: facts, enableSnat: gw.enableSnat, fixedIps } });
      }),
    );
  }

  /** router DeleteRouter (refused with interfaces) → release the gateway's addresses. */
  async deleteRouter(o: Origin, id: string): Promise<void> {
    const key = ownerKey('router', id);
    await this.reconciler.inFlight.around([key], async () => {
      await this.exec(o, 'delete-router', 'router', id, { type: 'DeleteRouter', data: {} });
      await this.settle(key, o);
    });
  }

  /**
   * The CreatePort steps for a router_interface port on the subnet's gateway
   * address (only such a port gets it, once: one router per subnet) →
   * router AddInterface. Answers the interface's port id.
   */
  async addRouterInterface(o: Origin, routerId: string, subnetId: string, portId: string): Promise<string> {
    const router = this.models.routers.state(routerId);
    if (router?.status !== 'active') throw new NotFound(`router_id: router ${routerId} not found`);
    const subnet = this.models.subnets.state(subnetId);
    if (subnet?.status !== 'active') throw new NotFound(`subnet_id: subnet ${subnetId} not found`);
    const existing = interfaceOn(router, subnetId);
    if (existing) {
      if (existing.portId === portId) return portId; // a retried request
      throw new AlreadyExists(`router ${routerId} already has an interface on subnet ${subnetId} (port ${existing.portId})`);
    }
    // One router per subnet: the gateway address is given out once. Say which router holds it.
    const held = subnet.allocations.get(parseAddress('gateway_ip', subnet.gatewayIp).value);
    if (held?.owner.kind === 'router_interface') {
      const holder = this.models.ports.state(held.owner.id)?.deviceId;
      throw new AlreadyExists(`subnet_id: subnet ${subnetId} is already attached to router ${holder || '(being removed)'} through port ${held.owner.id}`);
    }
    await this.reconciler.inFlight.around([ownerKey('port', portId)], () =>
      this.saga(o).run(async (saga) => {
        await this.portSteps(saga, portId, {
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
      }),
    );
    // The undo of CreatePort deleted the port; what it held is settled by the port's owner key on failure too.
    return portId;
  }

  /** router RemoveInterface (refused while routes or floating IPs use it) → DeletePort{asOwner: router} → its follow-ups. */
  async removeRouterInterface(o: Origin, routerId: string, subnetId: string): Promise<void> {
    const router = this.models.routers.state(routerId);
    if (router?.status !== 'active') throw new NotFound(`router_id: router ${routerId} not found`);
    const itf = interfaceOn(router, subnetId);
    if (!itf) throw new NotFound(`subnet_id: router ${routerId} has no interface on subnet ${subnetId}`);
    const key = ownerKey('port', itf.portId);
    await this.reconciler.inFlight.around([key], async () => {
      await this.exec(o, 'remove-interface', 'router', routerId, { type: 'RemoveInterface', data: { subnetId } });
      await this.exec(o, 'delete-interface-port', 'port', itf.portId, { type: 'DeletePort', data: { asOwner: routerId } });
      await this.settle(key, o);
    });
  }

  // Floating IPs

  /** An address from the external network's IPv4 subnets (first with room) → floating_ip CreateFloatingIp; undo: ReleaseIp. */
  async createFloatingIp(o: Origin, id: string, networkId: string, tenantId: string): Promise<void> {
    if (this.models.floatingIps.state(id)?.status === 'active') return;
    await this.reconciler.inFlight.around([ownerKey('floating_ip', id)], () => this.saga(o).run((saga) => this.floatingIpSteps(saga, id, networkId, tenantId)));
  }

  /** The steps of CreateFloatingIP inside a caller's saga. */
  async floatingIpSteps(saga: Saga, id: string, networkId: string, tenantId: string): Promise<void> {
    const facts = networkFacts(networkId, this.models.networks.state(networkId));
    requireExternalNetwork('floating_network_id', facts);
    const subnets = this.subnetsFor(networkId).filter((s) => !isV6(this.models.networks.state(networkId)!.subnets[s]));
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
          { aggregateType: 'subnet', aggregateId: subnetId, command: { type: 'ReleaseIp', data: { ipAddress: '', allocationId: id } } },
        );
      } catch (e) {
        if (isCode(e, Code.RESOURCE_EXHAUSTED)) {
          if (i + 1 < subnets.length) continue;
          throw new ResourceExhausted(`floating_network_id: every IPv4 subnet of network ${networkId} is full`);
        }
        throw e;
      }
      const floatingIp = allocationOf(this.models.subnets.state(subnetId)!, id)!.ipAddress;
      await saga.step(
        'create-floating-ip',
        'floating_ip',
        id,
        { type: 'CreateFloatingIp', data: { network: facts, subnetId, floatingIp, tenantId } },
        { aggregateType: 'floating_ip', aggregateId: id, command: { type: 'DeleteFloatingIp', data: {} } },
      );
      return;
    }
  }

  /** router RouteFloatingIp → port AttachFloatingIp → floating_ip AssociateFloatingIp; undo: DetachFloatingIp, UnrouteFloatingIp. */
  async associateFloatingIp(o: Origin, id: string, portId: string, fixedIp: string): Promise<void> {
    await this.reconciler.inFlight.around([ownerKey('floating_ip', id)], () => this.saga(o).run((saga) => this.associateSteps(saga, id, portId, fixedIp)));
  }

  /** The router that carries traffic from an external network to a subnet, if any. */
  routerReaching(floatingNetworkId: string, subnetId: string): string | undefined {
    return this.models.routers.ids().find((r) => {
      const s = this.models.routers.state(r);
      return !!s && reaches(s, floatingNetworkId, subnetId);
    });
  }

  /** The external network a subnet reaches through a router's gateway (for an instance's public IP), if any. */
  externalNetworkFor(subnetId: string): string | undefined {
    for (const r of this.models.routers.ids()) {
      const s = this.models.routers.state(r);
      if (s?.status === 'active' && s.gateway && s.interfaces.some((i) => i.subnetId === subnetId)) return s.gateway.networkId;
    }
    return undefined;
  }

  /** The steps of AssociateFloatingIP inside a caller's saga. */
  async associateSteps(saga: Saga, id: string, portId: string, fixedIp: string): Promise<void> {
    const fip = this.models.floatingIps.state(id);
    if (fip?.status !== 'active') throw new NotFound(`floating_ip_id: floating IP ${id} not found`);
    const port = this.models.ports.state(portId);
    if (port?.status !== 'active') throw new NotFound(`port_id: port ${portId} not found`);
    if (fip.portId && fip.portId !== portId) throw new FailedPrecondition(`floating IP ${id} is associated with port ${fip.portId}; disassociate it first`);
    if (!port.ipAddress || !port.subnetId) throw new FailedPrecondition(`port_id: port ${portId} has no fixed IP to associate a floating IP with`);
    const routerId = fip.routerId || this.routerReaching(fip.floatingNetworkId, port.subnetId);
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
      { aggregateType: 'router', aggregateId: routerId, command: { type: 'UnrouteFloatingIp', data: { floatingIpId: id } } },
    );
    await saga.step(
      'attach',
      'port',
      portId,
      { type: 'AttachFloatingIp', data: { floatingIpId: id, fixedIp: fixedIp || port.ipAddress } },
      { aggregateType: 'port', aggregateId: portId, command: { type: 'DetachFloatingIp', data: { floatingIpId: id } } },
    );
    await saga.step('associate', 'floating_ip', id, {
      type: 'AssociateFloatingIp',
      data: { portId, fixedIp: this.models.ports.state(portId)!.ipAddress, routerId },
    });
  }

  /** floating_ip DisassociateFloatingIp → port DetachFloatingIp, router UnrouteFloatingIp. */
  async disassociateFloatingIp(o: Origin, id: string): Promise<void> {
    const key = ownerKey('floating_ip', id);
    await this.reconciler.inFlight.around([key], async () => {
      await this.exec(o, 'disassociate', 'floating_ip', id, { type: 'DisassociateFloatingIp', data: {} });
      await this.settle(key, o);
    });
  }

  /** floating_ip DeleteFloatingIp (disassociates first) → detach, unroute, release the address. */
  async deleteFloatingIp(o: Origin, id: string): Promise<void> {
    const key = ownerKey('floating_ip', id);
    await this.reconciler.inFlight.around([key], async () => {
      await this.exec(o, `delete-floating-ip:${id}`, 'floating_ip', id, { type: 'DeleteFloatingIp', data: {} });
      await this.settle(key, step(o, id));
    });
  }
}
