import type { NetworkData } from '../../commands/instance/spec';
import { requireToken } from '../../commands/network/fields';
import { FailedPrecondition, InvalidArgument, NotFound } from '../../errors';
import type { NetworkReadModels } from '../../projections/network-read-models';

/**
 * CreateInstance's check of spec.network against what exists, so a request
 * naming a network, subnet or group that is not there is refused at once
 * (naming the field) rather than failing the instance later. What can change
 * meanwhile (a full subnet, say) still fails the instance with its reason.
 */
export const instanceNetworkCheck =
  (models: NetworkReadModels) =>
  (n: NetworkData): void => {
    const f = 'spec.network';
    requireToken(`${f}.network_id`, n.networkId);
    if (!models.networks.get(n.networkId)) throw new NotFound(`${f}.network_id: network ${n.networkId} not found`);
    let candidates: string[];
    if (n.subnetId) {
      requireToken(`${f}.subnet_id`, n.subnetId);
      const s = models.subnets.get(n.subnetId);
      if (!s) throw new NotFound(`${f}.subnet_id: subnet ${n.subnetId} not found`);
      if (s.networkId !== n.networkId) throw new InvalidArgument(`${f}.subnet_id: subnet ${n.subnetId} is on network ${s.networkId}, not ${n.networkId}`);
      candidates = [n.subnetId];
    } else {
      candidates = models.subnetsFor(n.networkId);
      if (candidates.length === 0) throw new FailedPrecondition(`${f}.network_id: network ${n.networkId} has no subnet to give the instance an address from`);
    }
    n.securityGroups.forEach((g, i) => {
      requireToken(`${f}.security_groups[${i}]`, g);
      if (n.securityGroups.indexOf(g) !== i) throw new InvalidArgument(`${f}.security_groups[${i}]: ${g} is listed twice`);
      if (!models.securityGroups.get(g)) throw new NotFound(`${f}.security_groups[${i}]: security group ${g} not found`);
    });
    if (n.assignPublicIp && !candidates.some((s) => models.externalNetworkFor(s)))
      throw new FailedPrecondition(
        `${f}.assign_public_ip: no router connects ${n.subnetId ? `subnet ${n.subnetId}` : `a subnet of network ${n.networkId}`} to an external network (a router with an interface on it and an external gateway)`,
      );
  };
