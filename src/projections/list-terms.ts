import type { Node } from '../gen/hypervisor/v1/cluster';
import type { Instance } from '../gen/hypervisor/v1/compute';
import type { Port } from '../gen/hypervisor/v1/network';
import { TENANT_ANNOTATION } from '../domain/annotations';
import { term } from './list-index';

/**
 * The filters of ListNodes, ListInstances and ListPorts as index terms: what
 * each object carries, and what a request asks for (a zero enum or an empty
 * string asks for nothing). Both sides are built here so they cannot drift.
 */
const labels = (l: Record<string, string> | undefined): string[] => Object.entries(l ?? {}).map(([k, v]) => term('label', k, v));
const asked = (field: string, value: string | number): string[] => (value ? [term(field, value)] : []);
const selector = (sel: readonly (readonly [string, string])[]): string[] => sel.map(([k, v]) => term('label', k, v));

export const nodeTerms = (n: Node): string[] => [
  term('role', n.role),
  term('status', n.status),
  term('region', n.region),
  term('zone', n.zone),
  ...labels(n.metadata?.labels),
];
export const nodeQuery = (q: { role: number; status: number; region: string; zone: string; labels: readonly (readonly [string, string])[] }): string[] => [
  ...asked('role', q.role),
  ...asked('status', q.status),
  ...asked('region', q.region),
  ...asked('zone', q.zone),
  ...selector(q.labels),
];

// The tenant only the server writes (Security I): a user bound to one lists only its own, from the index too.
export const instanceTerms = (i: Instance): string[] => [
  term('type', i.type),
  term('state', i.state),
  term('node', i.nodeId),
  term('tenant', i.metadata?.annotations[TENANT_ANNOTATION] ?? ''),
  ...labels(i.metadata?.labels),
];
export const instanceQuery = (q: { type: number; state: number; nodeId: string; tenant?: string; labels: readonly (readonly [string, string])[] }): string[] => [
  ...asked('type', q.type),
  ...asked('tenant', q.tenant ?? ''),
  ...asked('state', q.state),
  ...asked('node', q.nodeId),
  ...selector(q.labels),
];

export const portTerms = (p: Port): string[] => [term('network', p.networkId), term('instance', p.instanceId), term('node', p.nodeId)];
export const portQuery = (q: { networkId: string; instanceId: string; nodeId: string }): string[] => [
  ...asked('network', q.networkId),
  ...asked('instance', q.instanceId),
  ...asked('node', q.nodeId),
];
