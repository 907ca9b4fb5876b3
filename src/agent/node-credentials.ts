import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { IdentityServiceClient, type JoinNodeResponse } from '../gen/hypervisor/iam/v1/iam';
import { certificateFacts, dueForRenewal } from '../pki/certificate';
import { csrFor } from '../pki/csr';
import { writeAtomic, writeExclusive } from '../pki/exclusive-file';
import { decodeJoinToken } from '../pki/join-token';
import { newKey } from '../pki/openssl';
import { tlsTarget } from '../shared/tls-target';
import { pinnedCa } from './pinned-ca';

/** Where a joined host keeps its identity: `<state-dir>/pki/`, every file 0600. */
export const nodePkiFiles = (stateDir: string) => {
  const dir = path.join(stateDir, 'pki');
  return { dir, ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'node.crt'), key: path.join(dir, 'node.key'), natsToken: path.join(dir, 'nats-token'), server: path.join(dir, 'server'), natsUrl: path.join(dir, 'nats-url') };
};

export interface NodeTls {
  readonly tlsCa: string;
  readonly tlsCert: string;
  readonly tlsKey: string;
  /** Lab mode's shared NATS token, if the server handed one out. */
  readonly natsTokenFile?: string;
}

/** A refusal of the server, as the agent says it: its code's name and the server's words. */
export class JoinRefused extends Error {
  constructor(readonly code: number, details: string) {
    super(details);
  }
}

const call = <Req, Res>(fn: (req: Req, md: Metadata, o: { deadline: number }, cb: (e: ServiceError | null, r: Res) => void) => void, req: Req): Promise<Res> =>
  new Promise((resolve, reject) => fn(req, new Metadata(), { deadline: Date.now() + 15_000 }, (e, r) => (e ? reject(new JoinRefused(e.code, e.details)) : resolve(r))));

const keep = (files: ReturnType<typeof nodePkiFiles>, r: JoinNodeResponse): NodeTls => {
  writeAtomic(files.ca, r.caCertificatePem, 0o600);
  writeAtomic(files.cert, r.certificatePem, 0o600);
  if (r.natsToken) writeAtomic(files.natsToken, `${r.natsToken}\n`, 0o600);
  if (r.natsUrl) writeAtomic(files.natsUrl, `${r.natsUrl}\n`, 0o600);
  return current(files)!;
};

const current = (files: ReturnType<typeof nodePkiFiles>): NodeTls | undefined =>
  existsSync(files.cert) && existsSync(files.key) && existsSync(files.ca)
    ? { tlsCa: files.ca, tlsCert: files.cert, tlsKey: files.key, ...(existsSync(files.natsToken) ? { natsTokenFile: files.natsToken } : {}) }
    : undefined;

/** The key of this host, made here once (0600); it never leaves the host, only CSRs do. */
const ensureKey = async (keyFile: string): Promise<string> =>
  existsSync(keyFile) ? readFileSync(keyFile, 'utf8') : writeExclusive(keyFile, await newKey(), 0o600).content;

/**
 * Joins the cluster with a token: pins the CA by the token's fingerprint,
 * makes this host's key, sends a CSR and keeps what comes back. A refused
 * token (used, expired, revoked, forged) is a JoinRefused with the server's
 * reason, and nothing is kept but the key.
 */
export const join = async (o: { server: string; token: string; hostname: string; stateDir: string }, log: Logger): Promise<NodeTls> => {
  const token = decodeJoinToken(o.token, '--join-token');
  const files = nodePkiFiles(o.stateDir);
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  const ca = await pinnedCa(o.server, token.ca);
  const keyPem = await ensureKey(files.key);
  const target = tlsTarget(o.server);
  const client = new IdentityServiceClient(o.server, credentials.createSsl(Buffer.from(ca), null, null, { checkServerIdentity: target.checkServerIdentity }), target.channelOptions);
  try {
    const r = await call(client.joinNode.bind(client), { token: o.token.trim(), hostname: o.hostname, csrPem: await csrFor(keyPem, `node:${o.hostname}`) });
    const tls = keep(files, r);
    writeAtomic(files.server, `${o.server}\n`, 0o600);
    log.info({ server: o.server, node: `node:${o.hostname}`, serial: r.certificate?.serial, notAfter: r.certificate?.notAfter?.toISOString(), pki: files.dir }, 'joined the cluster');
    return tls;
  } finally {
    client.close();
  }
};

/** Renews this host's certificate with its own (same key, new CSR) when a third of its life is left; true if it did. */
export const renewIfDue = async (server: string, tls: NodeTls, hostname: string, log: Logger, now = new Date()): Promise<boolean> => {
  const facts = certificateFacts(readFileSync(tls.tlsCert));
  if (!dueForRenewal(facts, now)) return false;
  const keyPem = readFileSync(tls.tlsKey, 'utf8');
  const target = tlsTarget(server);
  const client = new IdentityServiceClient(server, credentials.createSsl(readFileSync(tls.tlsCa), Buffer.from(keyPem), readFileSync(tls.tlsCert), { checkServerIdentity: target.checkServerIdentity }), target.channelOptions);
  try {
    const r = await call(client.renewNodeCertificate.bind(client), { csrPem: await csrFor(keyPem, `node:${hostname}`) });
    keep(nodePkiFiles(path.dirname(path.dirname(tls.tlsCert))), r);
    log.info({ serial: r.certificate?.serial, notAfter: r.certificate?.notAfter?.toISOString(), was: facts.serial }, 'renewed this node certificate');
    return true;
  } finally {
    client.close();
  }
};

/**
 * The agent's credentials toward a control plane in network mode: given
 * ones (--tls-*), else those a join left in <state-dir>/pki, else a join
 * with --join-token now; none in development mode.
 */
export const nodeCredentials = async (
  cfg: { server: string; hostname: string; stateDir: string; joinToken?: string; tlsCa?: string; tlsCert?: string; tlsKey?: string },
  log: Logger,
): Promise<{ tls?: NodeTls; joined: boolean }> => {
  if (cfg.tlsCa || cfg.tlsCert || cfg.tlsKey) return { joined: false };
  const kept = current(nodePkiFiles(cfg.stateDir));
  if (kept) {
    if (cfg.joinToken) log.info('already joined (<state-dir>/pki holds a certificate): the join token is not used');
    return { tls: kept, joined: false };
  }
  if (!cfg.joinToken) return { joined: false };
  return { tls: await join({ server: cfg.server, token: cfg.joinToken, hostname: cfg.hostname, stateDir: cfg.stateDir }, log), joined: true };
};

const DEFAULT_SERVER = '127.0.0.1:50051';
const DEFAULT_NATS = 'nats://127.0.0.1:4222';

/** NATS to use: --nats-url when given, else the one the server named when this host joined. */
export const natsUrlOf = (cfg: { natsUrl: string; stateDir: string }): string => {
  const f = nodePkiFiles(cfg.stateDir).natsUrl;
  return cfg.natsUrl === DEFAULT_NATS && existsSync(f) ? readFileSync(f, 'utf8').trim() || cfg.natsUrl : cfg.natsUrl;
};

/**
 * The server to reach: --server when given; else the one the join token
 * names; else the one this host joined (kept in <state-dir>/pki/server).
 */
export const serverOf = (cfg: { server: string; stateDir: string; joinToken?: string }): string => {
  if (cfg.server !== DEFAULT_SERVER) return cfg.server;
  if (cfg.joinToken) return decodeJoinToken(cfg.joinToken, '--join-token').server;
  const f = nodePkiFiles(cfg.stateDir).server;
  return existsSync(f) ? readFileSync(f, 'utf8').trim() || cfg.server : cfg.server;
};
