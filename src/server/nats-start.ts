import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { ConnectionOptions } from 'nats';
import type { Logger } from 'pino';
import { ensureToken, isLoopback, localAddress, parseListen } from '../nats/embedded-auth';
import { SupervisedNatsServer } from '../nats/supervised-nats-server';
import type { ServerConfig } from './config';
import { ConfinedNats, natsIdentities } from './security/confined-nats';
import { advertisedHost } from './security/mode';
import type { Security } from './security/setup';

export interface NatsStart {
  readonly embedded?: SupervisedNatsServer;
  /** nats://… for this process. */
  readonly url: string;
  /** What agents are told (JoinNode, the embedded agent): tls://… when confined. */
  readonly agentUrl: string;
  readonly token?: string;
  readonly tokenFile?: string;
  readonly confined?: ConfinedNats;
  /** This process's own connection options (TLS with system:control-plane when confined). */
  readonly connect: Partial<ConnectionOptions>;
}

/**
 * NATS for this server: the operator's (--nats-url), or an embedded
 * nats-server. In network mode the embedded one is confined: TLS and a
 * client certificate of the cluster CA on every connection, loopback
 * included, each mapped to a user with its own permissions. In development
 * mode it is open on loopback; listening beyond loopback without network
 * mode is lab mode (one shared token), warned at every start.
 */
export const startNats = async (cfg: ServerConfig, security: Security, log: Logger): Promise<NatsStart> => {
  if (cfg.natsUrl) return givenNats(cfg.natsUrl, security, log);
  const natsDir = path.join(cfg.dataDir, 'nats');
  mkdirSync(natsDir, { recursive: true });
  const listen = cfg.natsListen ? parseListen(cfg.natsListen) : { host: '127.0.0.1', port: cfg.embeddedNatsPort };
  if (security.mode === 'network') {
    const pki = security.pki;
    let embedded: SupervisedNatsServer | undefined;
    const file = ConfinedNats.fileIn(natsDir);
    const confined = new ConfinedNats(file, natsDir, pki, () => embedded?.reload(), log);
    confined.write(natsIdentities([]));
    embedded = await SupervisedNatsServer.start({ dataDir: natsDir, host: listen.host, port: listen.port, configFile: file }, log);
    const port = new URL(embedded.url).port;
    const url = `nats://${localAddress(listen.host)}:${port}`;
    log.info({ url, listen: `${listen.host}:${port}`, natsPid: embedded.pid, config: file }, 'started embedded nats-server: TLS and a certificate of the cluster CA on every connection (verify_and_map)');
    return {
      embedded,
      url,
      agentUrl: `tls://${isLoopback(listen.host) ? '127.0.0.1' : advertisedHost(listen.host)}:${port}`,
      confined,
      connect: { tls: { ca: pki.ca.certPem, cert: pki.controlPlane.certPem, key: pki.controlPlane.keyPem } },
    };
  }
  const auth = isLoopback(listen.host) ? undefined : ensureToken(natsDir);
  if (auth) log.warn({ listen: `${listen.host}:${listen.port}`, tokenFile: auth.file }, 'LAB MODE: the embedded NATS listens beyond loopback with one shared token for every client (--nats-token-file on agents); run in network mode to confine each host to its own subjects');
  const embedded = await SupervisedNatsServer.start({ dataDir: natsDir, host: listen.host, port: listen.port, token: auth?.token }, log);
  const port = new URL(embedded.url).port;
  const url = `nats://${localAddress(listen.host)}:${port}`;
  log.info({ url, listen: `${listen.host}:${port}`, dataDir: embedded.dataDir, natsPid: embedded.pid, ...(auth ? { tokenFile: auth.file } : {}) }, 'started embedded nats-server');
  return { embedded, url, agentUrl: url, token: auth?.token, tokenFile: auth?.file, connect: { token: auth?.token } };
};

/**
 * A NATS this server did not start: the operator's, or another replica's
 * embedded one. `tls://…` in network mode is a confined NATS (the block
 * `hvctl nats authorization` prints): this server connects there as
 * `system:control-plane` with its certificate, as agents do with theirs,
 * and makes each joined node's work consumer.
 */
export const givenNats = (natsUrl: string, security: Pick<Security, 'mode' | 'pki'>, log: Logger): NatsStart => {
  if (security.mode !== 'network' || !natsUrl.includes('tls://')) return { url: natsUrl, agentUrl: natsUrl, connect: {} };
  const pki = security.pki;
  return {
    url: natsUrl.replace(/tls:\/\//g, 'nats://'),
    agentUrl: natsUrl,
    confined: ConfinedNats.given(pki, log),
    connect: { tls: { ca: pki.ca.certPem, cert: pki.controlPlane.certPem, key: pki.controlPlane.keyPem } },
  };
};
