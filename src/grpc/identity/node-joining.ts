import { randomBytes } from 'node:crypto';
import type { ServerUnaryCall } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { step } from '../../bus/dispatcher';
import type { Dispatcher, Origin } from '../../bus/dispatcher';
import { HOSTNAME, type JoinTokenState } from '../../commands/join_token';
import { Code, DomainError, InvalidArgument, PermissionDenied, Unauthenticated } from '../../errors';
import { nodeIdFor } from '../../commands/node/identity';
import type { IdentityServiceServer, JoinNodeResponse } from '../../gen/hypervisor/iam/v1/iam';
import { certificateFacts } from '../../pki/certificate';
import { type ClusterCa, issue, publicKeyOfCsr } from '../../pki/cluster-ca';
import { caFingerprint, decodeJoinToken, encodeJoinToken, secretHash, TOKEN_ID } from '../../pki/join-token';
import { unary } from '../../shared/grpc-unary';
import { callerOf } from '../auth/caller';
import { originOf } from '../request-context';

/** A node certificate lives 30 days; the agent renews it when a third is left (10 days), so a host down for a week keeps it. */
export const NODE_CERT_DAYS = 30;
const DEFAULT_TTL = 3600;
const MAX_TTL = 7 * 24 * 3600;

export interface NodeJoiningDeps {
  readonly joinTokens: { state(id: string): JoinTokenState | undefined };
  readonly dispatcher: Dispatcher;
  readonly ca: ClusterCa;
  /** host:port a joining host reaches this server at, when the admin names none. */
  readonly serverAddress: () => string;
  /** The shared NATS token in lab mode (--nats-token-file), handed to joined hosts; none when NATS takes certificates. */
  readonly natsToken?: () => string | undefined;
  /** What hosts are told to connect to (tls://… when NATS is confined). */
  readonly natsUrl?: () => string;
  readonly log: Logger;
}

type JoinMethods = Pick<IdentityServiceServer, 'createJoinToken' | 'revokeJoinToken' | 'joinNode' | 'renewNodeCertificate' | 'revokeNode'>;

/**
 * Revokes a host's identity and marks its node NOT_READY (if it registered);
 * its guests keep running: stopping them is the operator's choice.
 */
export const revokeNodeIdentity = async (dispatcher: Dispatcher, origin: Origin, hostname: string, alsoNode = true): Promise<void> => {
  await dispatcher.execute(step(origin, 'revoke'), 'node_identity', hostname, { type: 'RevokeNodeIdentity', data: {} });
  if (!alsoNode) return;
  await dispatcher
    .execute(step(origin, 'not-ready'), 'node', nodeIdFor(hostname), { type: 'MarkNodeNotReady', data: { reason: `its identity node:${hostname} was revoked` } })
    .catch((e) => {
      if (!(e instanceof DomainError && e.code === Code.NOT_FOUND)) throw e;
    });
};

/**
 * Hosts join with a single-use token (kubeadm's bootstrap token, Incus's
 * join token): the token is checked and spent by its aggregate's decider,
 * so two hosts racing with one token cannot both join; only then is the
 * host's CSR signed as `node:<hostname>` and the certificate recorded.
 */
export const nodeJoining = (d: NodeJoiningDeps): JoinMethods => {
  const sign = async (call: ServerUnaryCall<unknown, unknown>, hostname: string, publicKeyPem: string, joinToken?: string): Promise<JoinNodeResponse> => {
    const certificatePem = await issue(d.ca, { commonName: `node:${hostname}`, publicKeyPem, days: NODE_CERT_DAYS, usage: 'node' });
    const f = certificateFacts(certificatePem);
    const origin = { ...originOf(call), meta: { ...originOf(call).meta, actor: `node:${hostname}` } };
    await d.dispatcher.execute(step(origin, 'certificate'), 'node_identity', hostname, {
      type: 'RecordNodeCertificate',
      data: { serial: f.serial, fingerprint: f.fingerprint, notAfter: f.notAfter.toISOString(), ...(joinToken ? { joinToken } : {}) },
    });
    d.log.info({ node: `node:${hostname}`, serial: f.serial, notAfter: f.notAfter.toISOString(), joinToken }, joinToken ? 'a host joined' : 'a node renewed its certificate');
    return {
      certificate: { serial: f.serial, fingerprint: f.fingerprint, notAfter: f.notAfter, issuedAt: f.notBefore, revoked: false, revokedAt: undefined },
      certificatePem,
      caCertificatePem: d.ca.certPem,
      natsToken: d.natsToken?.() ?? '',
      natsUrl: d.natsUrl?.() ?? '',
    };
  };

  return {
    createJoinToken: unary(d.log, 'CreateJoinToken', async (req, call) => {
      const ttl = req.ttlSeconds || DEFAULT_TTL;
      if (ttl < 1 || ttl > MAX_TTL) throw new InvalidArgument(`ttl_seconds: ${req.ttlSeconds} is not between 1 and ${MAX_TTL} (0: ${DEFAULT_TTL})`);
      const server = req.serverAddress || d.serverAddress();
      if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(server)) throw new InvalidArgument(`server_address: "${server}" is not host:port`);
      const id = randomBytes(8).toString('hex');
      const secret = randomBytes(32).toString('base64url');
      const expiresAt = new Date(Date.now() + ttl * 1000);
      await d.dispatcher.execute(originOf(call), 'join_token', id, { type: 'CreateJoinToken', data: { secretHash: secretHash(secret), expiresAt: expiresAt.toISOString(), server } });
      const ca = caFingerprint(d.ca.certPem);
      return { token: encodeJoinToken({ server, id, secret, ca }), id, expiresAt, caFingerprint: ca };
    }),

    revokeJoinToken: unary(d.log, 'RevokeJoinToken', async (req, call) => {
      if (!TOKEN_ID.test(req.id)) throw new InvalidArgument(`id: "${req.id}" is not a join token id (16 hex digits)`);
      await d.dispatcher.execute(originOf(call), 'join_token', req.id, { type: 'RevokeJoinToken', data: {} });
      return {};
    }),

    joinNode: unary(d.log, 'JoinNode', async (req, call) => {
      let token;
      try {
        token = decodeJoinToken(req.token, 'token');
      } catch (e) {
        throw new Unauthenticated(`join token is forged: ${(e as Error).message}`);
      }
      if (!TOKEN_ID.test(token.id) || token.ca !== caFingerprint(d.ca.certPem)) throw new Unauthenticated(`join token ${token.id} is forged: this cluster never issued it (unknown id or another CA)`);
      // The host's mistakes are found before the token is spent.
      if (!HOSTNAME.test(req.hostname)) throw new InvalidArgument(`hostname: "${req.hostname}" is not a host name (letters, digits, '.', '-'; at most 63)`);
      const publicKeyPem = await publicKeyOfCsr(req.csrPem);
      const origin = { ...originOf(call), meta: { ...originOf(call).meta, actor: `node:${req.hostname}` } };
      await d.dispatcher.execute(step(origin, 'token'), 'join_token', token.id, {
        type: 'UseJoinToken',
        data: { secretHash: secretHash(token.secret), hostname: req.hostname, at: new Date().toISOString() },
      });
      return sign(call, req.hostname, publicKeyPem, token.id);
    }),

    revokeNode: unary(d.log, 'RevokeNode', async (req, call) => {
      if (!HOSTNAME.test(req.hostname)) throw new InvalidArgument(`hostname: "${req.hostname}" is not a host name (letters, digits, '.', '-'; at most 63)`);
      await revokeNodeIdentity(d.dispatcher, originOf(call), req.hostname);
      d.log.warn({ node: `node:${req.hostname}` }, 'node identity revoked');
      return {};
    }),

    renewNodeCertificate: unary(d.log, 'RenewNodeCertificate', async (req, call) => {
      const me = callerOf(call.metadata);
      const host = /^node:(.+)$/.exec(me?.name ?? '')?.[1];
      if (!host) throw new PermissionDenied(`RenewNodeCertificate: only a node renews its own certificate; ${me?.name ?? 'the caller'} is not a node`);
      return sign(call, host, await publicKeyOfCsr(req.csrPem));
    }),
  };
};
