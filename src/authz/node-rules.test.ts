import assert from 'node:assert/strict';
import { Code } from '../errors';
import { authorize, type Decision } from './authorize';
import type { Identity } from './identity';
import { METHOD_ROLES } from './method-roles';
import { authorizeReport, type PlacedKind, type Placement, type Report } from './node-rules';

const C = '/hypervisor.v1.ClusterService/';
const A: Identity = { name: 'node:host-a', role: 'node' };
const alice: Identity = { name: 'user:alice', role: 'admin' };

/**
 * The read models: nodes n-a (host-a) and n-b (host-b); instance i-b, port p-b, router r-b (with floating IP f-b),
 * volume v-b and its snapshot s-b on host-b; i-a on host-a; i-moving on host-b, moving to host-a.
 */
const HOSTS: Record<string, string> = { 'n-a': 'host-a', 'n-b': 'host-b' };
const PLACED: Record<PlacedKind, Record<string, string>> = {
  instance: { 'i-a': 'n-a', 'i-b': 'n-b', 'i-moving': 'n-b' },
  port: { 'p-b': 'n-b', 'p-a': 'n-a' },
  router: { 'r-b': 'n-b' },
  floating_ip: { 'f-b': 'n-b' },
  volume: { 'v-b': 'n-b' },
  snapshot: { 's-b': 'n-b' },
  node: { 'n-a': 'n-a', 'n-b': 'n-b' },
};
const MOVING: Record<string, string> = { 'i-moving': 'n-a' };
/** v-b moved from n-a with its instance; n-a still holds a copy. */
const COPIES: Record<string, string[]> = { 'v-b': ['n-a'] };
/** s-b is being copied to n-a after its volume; s-moved moved from n-a to n-b, n-a still holds its copy. */
const SNAPSHOT_MOVING: Record<string, string> = { 's-b': 'n-a' };
const SNAPSHOT_COPIES: Record<string, string[]> = { 's-moved': ['n-a'] };
const placement: Placement = {
  hostnameOf: (id) => HOSTS[id],
  nodeOf: (kind, id) => PLACED[kind][id] ?? (kind === 'snapshot' && id === 's-moved' ? 'n-b' : undefined),
  movingTo: (id) => MOVING[id],
  copiesOn: (id) => COPIES[id] ?? [],
  snapshotMovingTo: (id) => SNAPSHOT_MOVING[id],
  snapshotCopiesOn: (id) => SNAPSHOT_COPIES[id] ?? [],
};

const given = (who: Identity) => ({
  whenCalling: (method: string, request: unknown) => {
    const d = authorize(who, `${C}${method}`, request, undefined, METHOD_ROLES, placement);
    return thenIs(d);
  },
  whenReporting: (r: Report) => thenIs(authorizeReport(who, r, placement)),
});
const thenIs = (d: Decision) => ({
  thenAllowed: () => assert.deepEqual(d, { allow: true }),
  thenDenied: (message: RegExp) => {
    assert.equal(d.allow, false);
    if (d.allow) return;
    assert.equal(d.code, Code.PERMISSION_DENIED);
    assert.match(d.message, message);
  },
});

const running = (aggregateId: string): Report => ({ aggregateType: 'instance', aggregateId, command: { type: 'ReportInstanceRunning', data: {} } });

describe('node restriction (as the Kubernetes Node authorizer)', () => {
  it('a node registers its own host name only', () => {
    given(A).whenCalling('RegisterNode', { hostname: 'host-a' }).thenAllowed();
    given(A).whenCalling('RegisterNode', { hostname: 'host-b' }).thenDenied(/RegisterNode: node:host-a may register only its own host name "host-a", not "host-b"$/);
  });

  it('a node heartbeats and sets the status of its own node only', () => {
    given(A).whenCalling('Heartbeat', { nodeId: 'n-a' }).thenAllowed();
    given(A).whenCalling('UpdateNodeStatus', { nodeId: 'n-a', status: 2 }).thenAllowed();
    given(A).whenCalling('Heartbeat', { nodeId: 'n-b' }).thenDenied(/Heartbeat: node:host-a may act only for its own node; node n-b is node:host-b$/);
    given(A).whenCalling('UpdateNodeStatus', { nodeId: 'n-b' }).thenDenied(/UpdateNodeStatus: node:host-a may act only for its own node; node n-b is node:host-b$/);
    given(A).whenCalling('Heartbeat', { nodeId: 'n-unknown' }).thenDenied(/node n-unknown is not its node$/);
  });

  it("a user's certificate cannot act as a node, whatever its role; an administrator still sets any node's status", () => {
    given(alice).whenCalling('RegisterNode', { hostname: 'host-a' }).thenDenied(/RegisterNode: only a node's own certificate may call this; user:alice is a user$/);
    given(alice).whenCalling('Heartbeat', { nodeId: 'n-a' }).thenDenied(/user:alice is a user$/);
    given(alice).whenCalling('UpdateNodeStatus', { nodeId: 'n-b' }).thenAllowed();
    given({ name: 'local:admin', role: 'admin' }).whenCalling('RegisterNode', { hostname: 'any' }).thenAllowed();
  });

  it("a node's certificate cannot act as a user", () => {
    given(A).whenCalling('ListNodes', {}).thenDenied(/ListNodes needs the viewer role; node:host-a has the node role$/);
    given(A).whenCalling('DeregisterNode', { nodeId: 'n-a' }).thenDenied(/DeregisterNode needs the admin role/);
  });

  it('a node reports status only for instances, ports and routers placed on it', () => {
    given(A).whenReporting(running('i-a')).thenAllowed();
    given(A).whenReporting(running('i-b')).thenDenied(/^ReportInstanceRunning: instance i-b is not placed on node:host-a \(it is on node:host-b\)$/);
    given(A).whenReporting(running('i-gone')).thenDenied(/instance i-gone is not placed on node:host-a$/);
    given(A).whenReporting({ aggregateType: 'port', aggregateId: 'p-a', command: { type: 'ReportPortStatus', data: { nodeId: 'n-a' } } }).thenAllowed();
    given(A).whenReporting({ aggregateType: 'port', aggregateId: 'p-b', command: { type: 'ReportPortStatus', data: { nodeId: 'n-a' } } }).thenDenied(/port p-b is not placed on node:host-a/);
    given(A).whenReporting({ aggregateType: 'port', aggregateId: 'p-a', command: { type: 'ReportPortStatus', data: { nodeId: 'n-b' } } }).thenDenied(/port p-a is not placed on node:host-a/);
    given(A).whenReporting({ aggregateType: 'router', aggregateId: 'r-b', command: { type: 'ReportRouterStatus', data: {} } }).thenDenied(/router r-b is not placed on node:host-a/);
  });

  it("a node reports on its volumes, snapshots, floating IPs and own conditions, and not on another node's", () => {
    const B: Identity = { name: 'node:host-b', role: 'node' };
    const report = (aggregateType: string, aggregateId: string, type: string, data: object = {}): Report => ({ aggregateType, aggregateId, command: { type, data } });
    given(B).whenReporting(report('volume', 'v-b', 'ReportVolumeReady', { nodeId: 'n-b' })).thenAllowed();
    given(B).whenReporting(report('snapshot', 's-b', 'ReportSnapshotProgress', { nodeId: 'n-b' })).thenAllowed();
    given(B).whenReporting(report('floating_ip', 'f-b', 'ReportFloatingIpStatus')).thenAllowed();
    given(B).whenReporting(report('node', 'n-b', 'ReportNodeConditions')).thenAllowed();
    given(A).whenReporting(report('volume', 'v-b', 'ReportVolumeAttached', { nodeId: 'n-a' })).thenDenied(/^ReportVolumeAttached: volume v-b is not placed on node:host-a \(it is on node:host-b\)$/);
    given(A).whenReporting(report('snapshot', 's-b', 'ReportSnapshotReady')).thenDenied(/snapshot s-b is not placed on node:host-a/);
    // The node a volume moved away from reports its copy removed, and nothing else about it.
    given(A).whenReporting(report('volume', 'v-b', 'ReportVolumeCopyRemoved', { nodeId: 'n-a' })).thenAllowed();
    given(A).whenReporting(report('volume', 'v-b', 'ReportVolumeResized', { nodeId: 'n-a' })).thenDenied(/volume v-b is not placed on node:host-a/);
    given(B).whenReporting(report('volume', 'v-b', 'ReportVolumeCopyRemoved', { nodeId: 'n-a' })).thenDenied(/volume v-b is not placed on node:host-b/);
    given(A).whenReporting(report('floating_ip', 'f-b', 'ReportFloatingIpStatus')).thenDenied(/floating_ip f-b is not placed on node:host-a/);
    given(A).whenReporting(report('node', 'n-b', 'ReportNodeConditions')).thenDenied(/node n-b is not placed on node:host-a/);
  });

  it("a snapshot's node-to-be reports its copy made, the node it left its copy removed, and nothing else", () => {
    const B: Identity = { name: 'node:host-b', role: 'node' };
    const snap = (id: string, type: string, nodeId: string): Report => ({ aggregateType: 'snapshot', aggregateId: id, command: { type, data: { nodeId } } });
    given(A).whenReporting(snap('s-b', 'ReportSnapshotCopied', 'n-a')).thenAllowed();
    given(B).whenReporting(snap('s-b', 'ReportSnapshotServed', 'n-b')).thenAllowed();
    given(A).whenReporting(snap('s-b', 'ReportSnapshotServed', 'n-a')).thenDenied(/ReportSnapshotServed: snapshot s-b is not placed on node:host-a/);
    given(A).whenReporting(snap('s-moved', 'ReportSnapshotCopyRemoved', 'n-a')).thenAllowed();
    given(A).whenReporting(snap('s-moved', 'ReportSnapshotReady', 'n-a')).thenDenied(/snapshot s-moved is not placed on node:host-a/);
    given(A).whenReporting(snap('s-b', 'ReportSnapshotCopyRemoved', 'n-a')).thenDenied(/snapshot s-b is not placed on node:host-a/);
  });

  it("a move's target reports on the instance as its source does; a third node does not", () => {
    const B: Identity = { name: 'node:host-b', role: 'node' };
    const ready: Report = { aggregateType: 'instance', aggregateId: 'i-moving', command: { type: 'ReportMigrationTargetReady', data: { nodeId: 'n-a' } } };
    given(A).whenReporting(ready).thenAllowed();
    given(B).whenReporting({ ...ready, command: { type: 'ReportMigrationProgress', data: { nodeId: 'n-b' } } }).thenAllowed();
    given(B).whenReporting(ready).thenDenied(/ReportMigrationTargetReady: instance i-moving is not placed on node:host-b/);
    given(A).whenReporting({ aggregateType: 'instance', aggregateId: 'i-b', command: { type: 'ReportInstanceMigrated', data: { nodeId: 'n-a' } } }).thenDenied(/instance i-b is not placed on node:host-a/);
  });

  it("either end of a move fails it (the target refusing it, the source whose send failed); a third node does not, nor for another node", () => {
    const B: Identity = { name: 'node:host-b', role: 'node' };
    const C3: Identity = { name: 'node:host-c', role: 'node' };
    const fail = (aggregateId: string, nodeId: string): Report => ({ aggregateType: 'instance', aggregateId, command: { type: 'FailMigration', data: { nodeId, migration: 1, reason: 'on the target: cannot take a live migration' } } });
    given(A).whenReporting(fail('i-moving', 'n-a')).thenAllowed();
    given(B).whenReporting(fail('i-moving', 'n-b')).thenAllowed();
    given(C3).whenReporting(fail('i-moving', 'n-a')).thenDenied(/^FailMigration: instance i-moving is not placed on node:host-c \(it is on node:host-b\)$/);
    given(A).whenReporting(fail('i-moving', 'n-b')).thenDenied(/FailMigration: instance i-moving is not placed on node:host-a/);
    given(A).whenReporting(fail('i-b', 'n-a')).thenDenied(/FailMigration: instance i-b is not placed on node:host-a \(it is on node:host-b\)$/);
  });

  it('a node sends no command but reports: PERMISSION_DENIED naming the node', () => {
    given(A).whenReporting({ aggregateType: 'instance', aggregateId: 'i-a', command: { type: 'DeleteInstance', data: {} } }).thenDenied(/^DeleteInstance on instance i-a: node:host-a may only report on what is placed on it$/);
    given(A).whenReporting({ aggregateType: 'node', aggregateId: 'n-b', command: { type: 'Heartbeat', data: {} } }).thenDenied(/node:host-a may only report/);
    given(A).whenReporting({ aggregateType: 'port', aggregateId: 'i-a', command: { type: 'ReportInstanceRunning', data: {} } }).thenDenied(/ReportInstanceRunning: is about the instance kind, not port$/);
  });

  it('identities that are not nodes are not restricted by reports', () => {
    given(alice).whenReporting(running('i-b')).thenAllowed();
  });
});
