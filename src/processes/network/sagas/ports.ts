import { type Origin, step } from '../../../bus/dispatcher';
import { macAddressId } from '../../../commands/mac_address';
import type { PortSpec, PortState } from '../../../commands/port';
import { allocationOf } from '../../../commands/subnet';
import { Code } from '../../../errors';
import { candidateMac } from '../ids';
import { ownerKey } from '../reservations';
import type { Saga } from '../saga';
import { isCode, type SagaContext } from './context';

/**
 * CreatePort as the API (or an instance) asks for it: the command's spec,
 * where the system may fill in what is left '': the subnet (the network's
 * first with a free address, IPv4 first; none if it has no subnet), the MAC
 * (derived from the port id) and the address (the lowest free one of the
 * subnet's pools). instanceId and hostname are recorded on the allocation.
 */
export interface PortRequest extends PortSpec {
  readonly instanceId?: string;
  readonly hostname?: string;
}

/** How many derived MACs a port tries before giving up (each collision is 1 in 2^46). */
const MAC_TRIES = 8;

export class PortSagas {
  constructor(private readonly c: SagaContext) {}

  /** CreatePort as one saga of its own. */
  async create(o: Origin, id: string, req: PortRequest): Promise<PortState> {
    const existing = this.c.models.ports.state(id);
    if (existing?.status === 'active') return existing;
    return this.c.create(o, ownerKey('port', id), (saga) => this.steps(saga, id, req));
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
  async steps(saga: Saga, id: string, req: PortRequest): Promise<PortState> {
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
            { type: 'ReleaseMac', data: { portId: id } },
          );
          return candidate;
        } catch (e) {
          // A MAC the user asked for is theirs to change; a derived one that collides is replaced by the next.
          if (req.macAddress || !isCode(e, Code.ALREADY_EXISTS) || n + 1 >= MAC_TRIES) throw e;
        }
      }
    };
    const allocate = async (mac: string, attempt: string): Promise<{ subnetId: string; ipAddress: string }> => {
      const candidates = req.subnetId ? [req.subnetId] : this.c.models.subnetsFor(networkId);
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
            { type: 'ReleaseIp', data: { ipAddress: '', allocationId: id } },
          );
        } catch (e) {
          // Chosen by the system: a full subnet passes the port on to the next one.
          if (!req.subnetId && isCode(e, Code.RESOURCE_EXHAUSTED) && i + 1 < candidates.length) continue;
          throw e;
        }
        const a = allocationOf(this.c.models.subnets.state(candidate)!, id);
        if (!a) throw new Error(`subnet ${candidate} shows no allocation ${id} after allocating it`);
        return { subnetId: candidate, ipAddress: a.ipAddress };
      }
      return { subnetId: '', ipAddress: '' }; // a network without subnets: a port without an address
    };

    const steps = await Promise.allSettled([
      saga.step('add-port', 'network', networkId, { type: 'AddPort', data: { portId: id } }, { type: 'RemovePort', data: { portId: id } }),
      reserveMac(),
      allocate(firstMac, ''),
      ...req.securityGroups.map((g) =>
        saga.step(`attach-group:${g}`, 'security_group', g, { type: 'AttachPort', data: { portId: id } }, { type: 'DetachPort', data: { portId: id } }),
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
      { type: 'DeletePort', data: { asOwner: req.deviceId } },
    );
    return this.c.models.ports.state(id)!;
  }

  /** port DeletePort (refused while bound, with floating IPs, or a router's) → groups, address, MAC, network reference. */
  delete(o: Origin, id: string, asOwner = ''): Promise<void> {
    const command = { type: 'DeletePort', data: { asOwner } };
    return this.c.end(o, ownerKey('port', id), [{ name: `delete-port:${id}`, aggregateType: 'port', aggregateId: id, command }], step(o, id));
  }
}
