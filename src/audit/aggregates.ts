import type { Decider, DomainEvent } from '../commands/decider';
import { floatingIpDecider } from '../commands/floating_ip';
import { floatingIpToProto } from '../wire/views/floating-ip';
import { imageDecider } from '../commands/image';
import { toImage } from '../wire/views/image';
import { instanceDecider } from '../commands/instance';
import { toInstance } from '../wire/views/instance';
import type { AnyDecider } from '../commands/decider';
import { macAddressDecider, macAddressToJson } from '../commands/mac_address';
import { networkDecider } from '../commands/network';
import { networkToProto } from '../wire/views/network';
import { networkPoolDecider, networkPoolToJson } from '../commands/network_pool';
import { nodeDecider } from '../commands/node';
import { toNode } from '../wire/views/node';
import { portDecider } from '../commands/port';
import { portToProto } from '../wire/views/port';
import { routerDecider } from '../commands/router';
import { routerToProto } from '../wire/views/router';
import { securityGroupDecider } from '../commands/security_group';
import { securityGroupToProto } from '../wire/views/security-group';
import { subnetDecider } from '../commands/subnet';
import { subnetToProto } from '../wire/views/subnet';
import { snapshotDecider } from '../commands/snapshot';
import { toSnapshot } from '../wire/views/snapshot';
import { volumeDecider } from '../commands/volume';
import { toVolume } from '../wire/views/volume';
import { Node } from '../gen/hypervisor/v1/cluster';
import { Snapshot, Volume } from '../gen/hypervisor/v1/storage';
import { Image, Instance } from '../gen/hypervisor/v1/compute';
import { FloatingIP, Network, Port, Router, SecurityGroup, Subnet } from '../gen/hypervisor/v1/network';
import { userDecider } from '../commands/user';
import { toUser } from '../wire/views/user';
import { User } from '../gen/hypervisor/iam/v1/iam';
import { joinTokenDecider } from '../commands/join_token';
import { nodeIdentityDecider } from '../commands/node_identity';
import { integratorDecider } from '../commands/integrator';

/**
 * How the audit shows one aggregate type: its decider (so GetStateAt folds
 * the aggregate's own events through the same evolve the live system uses)
 * and how a state looks to clients (the proto3 JSON mapping of its
 * hypervisor.v1 message; undefined while the resource does not exist).
 */
export interface AuditedAggregate {
  readonly decider: AnyDecider;
  readonly present: (state: unknown) => Record<string, unknown> | undefined;
  /** Not a hypervisor.v1 resource (a pool or index aggregate that keeps an invariant); shown as its own JSON. */
  readonly internal: boolean;
}

/** A public resource: state → its hypervisor.v1 message → proto3 JSON. */
const resource = <S, V>(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  decider: Decider<any, DomainEvent, S>,
  view: (state: S) => V | undefined,
  message: { toJSON(v: V): unknown },
): [string, AuditedAggregate] => [
  decider.aggregateType,
  {
    decider: decider as AnyDecider,
    present: (s) => {
      const v = view(s as S);
      return v === undefined ? undefined : (message.toJSON(v) as Record<string, unknown>);
    },
    internal: false,
  },
];

/** An internal aggregate: it exists once it has events; its state is its own JSON view. */
const internal = <S>(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  decider: Decider<any, DomainEvent, S>,
  toJson: (state: S) => unknown,
): [string, AuditedAggregate] => [
  decider.aggregateType,
  { decider: decider as AnyDecider, present: (s) => JSON.parse(JSON.stringify(toJson(s as S))), internal: true },
];

/**
 * Every aggregate type the audit can list and rebuild. A new aggregate joins
 * with one line here; test/audit/aggregates.test.ts fails while a decider in
 * DECIDERS has no line.
 */
export const AUDITED: ReadonlyMap<string, AuditedAggregate> = new Map([
  resource(nodeDecider, toNode, Node),
  resource(instanceDecider, toInstance, Instance),
  resource(imageDecider, toImage, Image),
  resource(networkDecider, networkToProto, Network),
  resource(subnetDecider, subnetToProto, Subnet),
  resource(portDecider, portToProto, Port),
  resource(securityGroupDecider, securityGroupToProto, SecurityGroup),
  resource(routerDecider, routerToProto, Router),
  resource(floatingIpDecider, floatingIpToProto, FloatingIP),
  // Our own message (hypervisor.iam.v1.User): who was given which role and certificates, never a key.
  resource(userDecider, toUser, User),
  resource(volumeDecider, toVolume, Volume),
  resource(snapshotDecider, toSnapshot, Snapshot),
  internal(networkPoolDecider, networkPoolToJson),
  internal(macAddressDecider, macAddressToJson),
  // Who was let join when, and which certificates a host holds: never a secret or a key (the token's secret not even as its hash).
  internal(joinTokenDecider, ({ secretHash: _h, ...rest }) => rest),
  internal(nodeIdentityDecider, (s) => s),
  internal(integratorDecider, (s) => s),
]);
