import { nodeIdFor } from '../../commands/node/identity';
import { STORAGE_CHANGED_SUBJECT, STORAGE_PLAN_SUBJECT } from '../../agent/storage-protocol';
import { consumerName, DESIRED_SUBJECT, nodeInbox, perNodeSubject, IMAGE_RESOLVE_SUBJECT, NETWORK_CHANGED_SUBJECT, NETWORK_PLAN_SUBJECT, WORK_STREAM } from '../../agent/protocol';
import { reportPrefix } from '../../bus/subjects';
import { FEED_STREAM } from '../../feed/subjects';
import { CONTROL_PLANE } from '../../pki/cluster-pki';
import { feedInbox } from './feed-credentials';

/** Who may connect to NATS: each is a certificate of the cluster CA, mapped by its subject (verify_and_map). */
export type NatsIdentity =
  | { readonly kind: 'control-plane' }
  | { readonly kind: 'node'; readonly hostname: string }
  | { readonly kind: 'integrator'; readonly name: string; readonly consumer: string };

export interface Permissions {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}


/**
 * A node: its work (the JetStream API calls of its own durable consumer,
 * which the control plane makes), its reports (`hv.report.<nodeId>.>`, which
 * the control plane checks against what is placed on it), the control
 * requests it makes, the network note, and its own inbox. Nothing of the
 * log, the feed, the command subjects or another node.
 */
export const nodePermissions = (hostname: string): Permissions => {
  const id = nodeIdFor(hostname);
  const consumer = consumerName(id);
  return {
    publish: [
      `${reportPrefix(id)}.>`,
      perNodeSubject(DESIRED_SUBJECT, id),
      perNodeSubject(NETWORK_PLAN_SUBJECT, id),
      perNodeSubject(STORAGE_PLAN_SUBJECT, id),
      IMAGE_RESOLVE_SUBJECT,
      '$JS.API.INFO',
      `$JS.API.STREAM.INFO.${WORK_STREAM}`,
      `$JS.API.CONSUMER.INFO.${WORK_STREAM}.${consumer}`,
      `$JS.API.CONSUMER.MSG.NEXT.${WORK_STREAM}.${consumer}`,
      `$JS.ACK.${WORK_STREAM}.${consumer}.>`,
    ],
    subscribe: [NETWORK_CHANGED_SUBJECT, STORAGE_CHANGED_SUBJECT, `${nodeInbox(id)}.>`],
  };
};

/** An integrator pulls from its own durable consumer on HV_EVENTS, which the control plane made with its filter; nothing else. */
export const integratorPermissions = (name: string, consumer: string): Permissions => ({
  publish: ['$JS.API.INFO', `$JS.API.CONSUMER.INFO.${FEED_STREAM}.${consumer}`, `$JS.API.CONSUMER.MSG.NEXT.${FEED_STREAM}.${consumer}`, `$JS.ACK.${FEED_STREAM}.${consumer}.>`],
  subscribe: [`${feedInbox(name)}.>`],
});

const CONTROL_PLANE_PERMISSIONS: Permissions = { publish: ['>'], subscribe: ['>'] };

/** The subject (RFC 2253) a certificate is mapped by. */
export const mappedUser = (id: NatsIdentity): string =>
  id.kind === 'control-plane' ? `CN=${CONTROL_PLANE}` : id.kind === 'node' ? `CN=node:${id.hostname}` : `CN=feed:${id.name}`;

const permissionsOf = (id: NatsIdentity): Permissions =>
  id.kind === 'control-plane' ? CONTROL_PLANE_PERMISSIONS : id.kind === 'node' ? nodePermissions(id.hostname) : integratorPermissions(id.name, id.consumer);

const list = (xs: readonly string[]) => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;

/**
 * The `authorization` block of nats-server's configuration: one user per
 * identity, mapped from its client certificate (`verify_and_map` in the tls
 * block), each with only its own permissions. Sorted, so the same
 * identities always give the same text (a reload only when it changes).
 */
export const authorizationBlock = (ids: readonly NatsIdentity[]): string => {
  const users = [...ids]
    .map((id) => ({ user: mappedUser(id), p: permissionsOf(id) }))
    .sort((a, b) => a.user.localeCompare(b.user))
    .filter((u, i, all) => i === 0 || all[i - 1].user !== u.user)
    .map((u) => `    { user: ${JSON.stringify(u.user)}, permissions: { publish: { allow: ${list(u.p.publish)} }, subscribe: { allow: ${list(u.p.subscribe)} } } }`);
  return ['authorization {', '  users = [', users.join(',\n'), '  ]', '}', ''].join('\n');
};

/** The tls block that makes every connection present a certificate of the cluster CA and be mapped by it. */
export const tlsBlock = (files: { cert: string; key: string; ca: string }): string =>
  ['tls {', `  cert_file: ${JSON.stringify(files.cert)}`, `  key_file: ${JSON.stringify(files.key)}`, `  ca_file: ${JSON.stringify(files.ca)}`, '  verify_and_map: true', '  timeout: 5', '}', ''].join('\n');

/** For an operator's own nats-server (--nats-url): the tls block to fill in, and the authorization block. */
export const operatorConfiguration = (ids: readonly NatsIdentity[]): string =>
  [
    '# hvctl nats authorization: put this in your nats-server configuration, then reload it (nats-server --signal reload).',
    '# Every client presents a certificate of the cluster CA (<data-dir>/pki/ca.crt) and is mapped by its subject.',
    tlsBlock({ cert: '/path/to/your/nats-server.crt', key: '/path/to/your/nats-server.key', ca: '/path/to/cluster/ca.crt' }),
    authorizationBlock(ids),
  ].join('\n');
