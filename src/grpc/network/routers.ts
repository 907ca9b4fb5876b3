import { step } from '../../bus/dispatcher';
import { requireToken } from '../../commands/network/fields';
import { InvalidArgument } from '../../errors';
import type { NetworkServiceServer } from '../../gen/hypervisor/v1/network';
import { derivedId } from '../../processes/network/ids';
import type { GatewayRequest } from '../../processes/network/operations';
import { unary } from '../../shared/grpc-unary';
import { type NetworkServiceDeps, originOf, required, written } from './context';

type Methods = Pick<
  NetworkServiceServer,
  | 'createRouter'
  | 'getRouter'
  | 'listRouters'
  | 'deleteRouter'
  | 'addRouterInterface'
  | 'removeRouterInterface'
  | 'addRoute'
  | 'removeRoute'
>;

export const routerMethods = (d: NetworkServiceDeps): Methods => ({
  createRouter: unary(d.log, 'CreateRouter', async (req, call) => {
    let gateway: GatewayRequest | undefined;
    const gw = req.externalGateway;
    if (gw) {
      if (!gw.networkId) throw new InvalidArgument('external_gateway.network_id: is required when external_gateway is given');
      required(d.models.networks, 'network', 'external_gateway.network_id', gw.networkId);
      gw.externalFixedIps.forEach((f, i) => requireToken(`external_gateway.external_fixed_ips[${i}].subnet_id`, f.subnetId));
      gateway = { networkId: gw.networkId, enableSnat: gw.enableSnat, fixedIps: gw.externalFixedIps.map((f) => ({ subnetId: f.subnetId, ipAddress: f.ipAddress })) };
    }
    const o = originOf(call);
    const id = derivedId(o.commandId, 'router');
    await d.ops.routers.create(o, id, { name: req.name, tenantId: req.tenantId, distributed: req.distributed, gateway });
    return { router: written(d.models.routers, 'router', id) };
  }),

  getRouter: unary(d.log, 'GetRouter', async (req) => ({ router: required(d.models.routers, 'router', 'router_id', req.routerId) })),

  // No paging fields in the contract: every match.
  listRouters: unary(d.log, 'ListRouters', async (req) => ({
    routers: d.models.routers.list().filter((r) => !req.tenantId || r.tenantId === req.tenantId),
  })),

  deleteRouter: unary(d.log, 'DeleteRouter', async (req, call) => {
    required(d.models.routers, 'router', 'router_id', req.routerId);
    await d.ops.routers.delete(originOf(call), req.routerId);
    return {};
  }),

  addRouterInterface: unary(d.log, 'AddRouterInterface', async (req, call) => {
    required(d.models.routers, 'router', 'router_id', req.routerId);
    required(d.models.subnets, 'subnet', 'subnet_id', req.subnetId);
    const o = originOf(call);
    const portId = await d.ops.routers.addInterface(o, req.routerId, req.subnetId, derivedId(o.commandId, 'router-interface'));
    return { portId };
  }),

  removeRouterInterface: unary(d.log, 'RemoveRouterInterface', async (req, call) => {
    required(d.models.routers, 'router', 'router_id', req.routerId);
    requireToken('subnet_id', req.subnetId);
    await d.ops.routers.removeInterface(originOf(call), req.routerId, req.subnetId);
    return {};
  }),

  addRoute: unary(d.log, 'AddRoute', async (req, call) => {
    required(d.models.routers, 'router', 'router_id', req.routerId);
    await d.dispatcher.execute(step(originOf(call), 'add-route'), 'router', req.routerId, {
      type: 'AddRoute',
      data: { destination: req.destination, nexthop: req.nexthop },
    });
    return { router: written(d.models.routers, 'router', req.routerId) };
  }),

  removeRoute: unary(d.log, 'RemoveRoute', async (req, call) => {
    required(d.models.routers, 'router', 'router_id', req.routerId);
    await d.dispatcher.execute(step(originOf(call), 'remove-route'), 'router', req.routerId, {
      type: 'RemoveRoute',
      data: { destination: req.destination },
    });
    return { router: written(d.models.routers, 'router', req.routerId) };
  }),
});
