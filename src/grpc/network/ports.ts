import { step } from '../../bus/dispatcher';
import { requireToken } from '../../commands/network/fields';
import { validatePortRequest } from '../../commands/port';
import { bindingTypeFromProto } from '../../wire/views/port';
import { FailedPrecondition, InvalidArgument } from '../../errors';
import { bindingsOf } from '../../processes/dataplane/host-plan';
import { type NetworkServiceServer, Port } from '../../gen/hypervisor/v1/network';
import { derivedId } from '../../processes/network/ids';
import { parseAddress } from '../../domain/ipam/address';
import { contains, parseCidr } from '../../domain/ipam/cidr';
import { parseMac } from '../../domain/ipam/mac';
import { EncodedItems, encodedPage } from '../encoded-page';
import { pageSize } from '../paging';
import { portQuery } from '../../projections/list-terms';
import { unary } from '../../shared/grpc-unary';
import { type NetworkServiceDeps, originOf, required, written } from './context';

type Methods = Pick<NetworkServiceServer, 'createPort' | 'getPort' | 'listPorts' | 'deletePort' | 'bindPort' | 'unbindPort'>;

/** The tap device a port gets when BindPort names none (Neutron's convention: "tap" and the port id's first 11 characters fit IFNAMSIZ). */
export const defaultDeviceName = (portId: string) => `tap${portId.slice(0, 11)}`;

export const portMethods = (d: NetworkServiceDeps): Methods => {
  const listed = new EncodedItems<Port>((p) => Port.encode(p).finish());
  return {
    createPort: unary(d.log, 'CreatePort', async (req, call) => {
      required(d.models.networks, 'network', 'network_id', req.networkId);
      const bindingType = bindingTypeFromProto(req.bindingType);
      if (!bindingType) throw new InvalidArgument(`binding_type: ${req.bindingType} is not a PortBindingType`);
      const macAddress = req.macAddress ? parseMac('mac_address', req.macAddress) : '';
      let subnetId = req.subnetId;
      if (subnetId) {
        const s = required(d.models.subnets, 'subnet', 'subnet_id', subnetId);
        if (s.networkId !== req.networkId) throw new InvalidArgument(`subnet_id: subnet ${subnetId} is on network ${s.networkId}, not ${req.networkId}`);
      } else if (req.ipAddress) {
        // An address without a subnet: the network's subnet that holds it.
        const ip = parseAddress('ip_address', req.ipAddress);
        const cidrs = Object.entries(d.models.networks.state(req.networkId)!.subnets);
        subnetId = cidrs.find(([, c]) => contains(parseCidr('cidr', c), ip.version, ip.value))?.[0] ?? '';
        if (!subnetId) throw new InvalidArgument(`ip_address: ${req.ipAddress} is on no subnet of network ${req.networkId}`);
      }
      const spec = {
        networkId: req.networkId,
        subnetId,
        name: req.name,
        macAddress,
        ipAddress: req.ipAddress,
        securityGroups: req.securityGroups,
        bindingType,
        deviceOwner: '' as const,
        deviceId: '',
      };
      validatePortRequest(spec);
      req.securityGroups.forEach((g, i) => required(d.models.securityGroups, 'security group', `security_groups[${i}]`, g));
      const o = originOf(call);
      const id = derivedId(o.commandId, 'port');
      await d.ops.ports.create(o, id, spec);
      return { port: written(d.models.ports, 'port', id) };
    }),

    getPort: unary(d.log, 'GetPort', async (req) => ({ port: required(d.models.ports, 'port', 'port_id', req.portId) })),

    listPorts: unary(d.log, 'ListPorts', async (req) => {
      const size = pageSize(req.pageSize);
      if (req.networkId) requireToken('network_id', req.networkId);
      const query = { networkId: req.networkId, instanceId: req.instanceId, nodeId: req.nodeId };
      const terms = portQuery(query);
      const page = d.pager.pageBy(query, size, req.pageToken, (after, n) => d.models.ports.select(terms, after, n), (p) => p.id, () => 0);
      return encodedPage({ ports: page.items, nextPageToken: page.nextPageToken }, page.items.map((p) => listed.of(p)), page.nextPageToken);
    }),

    deletePort: unary(d.log, 'DeletePort', async (req, call) => {
      required(d.models.ports, 'port', 'port_id', req.portId);
      await d.ops.ports.delete(originOf(call), req.portId);
      return {};
    }),

    bindPort: unary(d.log, 'BindPort', async (req, call) => {
      required(d.models.ports, 'port', 'port_id', req.portId);
      const port = d.models.ports.state(req.portId)!;
      requireToken('instance_id', req.instanceId);
      if (req.nodeId) {
        required(d.nodes, 'node', 'node_id', req.nodeId);
        const node = d.nodes.state(req.nodeId)!;
        // A node that says what its data plane offers gets only ports it can realise (unspecified = its default).
        const offered = bindingsOf(node);
        if (offered && port.bindingType !== 'unspecified' && !offered.includes(port.bindingType))
          throw new FailedPrecondition(`port ${port.id} asks for binding type ${port.bindingType}; node ${node.hostname || node.id} offers ${offered.join(', ') || 'none'}`);
      }
      await d.dispatcher.execute(step(originOf(call), 'bind-port'), 'port', req.portId, {
        type: 'BindPort',
        data: { instanceId: req.instanceId, nodeId: req.nodeId, deviceName: req.deviceName || defaultDeviceName(req.portId) },
      });
      return { port: written(d.models.ports, 'port', req.portId) };
    }),

    unbindPort: unary(d.log, 'UnbindPort', async (req, call) => {
      required(d.models.ports, 'port', 'port_id', req.portId);
      await d.dispatcher.execute(step(originOf(call), 'unbind-port'), 'port', req.portId, { type: 'UnbindPort', data: { instanceId: '' } });
      return { port: written(d.models.ports, 'port', req.portId) };
    }),
  };
};
