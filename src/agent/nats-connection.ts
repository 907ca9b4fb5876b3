import { failoverOptions } from '../shared/nats-servers';
import { readFileSync } from 'node:fs';
import { connect, type NatsConnection } from 'nats';
import { nodeIdFor } from '../commands/node/identity';
import { readTokenFile } from '../shared/token-file';
import type { AgentConfig } from './config';
import { nodeInbox } from './protocol';

/**
 * The agent's NATS connection. `tls://host:port` is a confined NATS (the
 * server's embedded one in network mode, or an operator's with the block
 * `hvctl nats authorization` prints): the node's certificate is its
 * identity there, and its requests' replies come to its own inbox prefix.
 * Otherwise plain, with lab mode's shared token if one is given.
 */
export const connectAgentNats = async (cfg: AgentConfig): Promise<{ nc: NatsConnection; confined: boolean }> => {
  const confined = cfg.natsUrl.startsWith('tls://');
  const token = !confined && cfg.natsTokenFile ? readTokenFile(cfg.natsTokenFile) : undefined;
  if (confined && !(cfg.tlsCa && cfg.tlsCert && cfg.tlsKey)) throw new Error(`${cfg.natsUrl}: a confined NATS needs this node's certificate (join with --join-token)`);
  try {
    const nc = await connect({
      // Several URLs of one cluster: fail over between them (src/shared/nats-servers.ts).
      ...failoverOptions(confined ? cfg.natsUrl.replace(/tls:\/\//g, 'nats://') : cfg.natsUrl),
      token,
      ...(confined
        ? { tls: { ca: readFileSync(cfg.tlsCa!, 'utf8'), cert: readFileSync(cfg.tlsCert!, 'utf8'), key: readFileSync(cfg.tlsKey!, 'utf8') }, inboxPrefix: nodeInbox(nodeIdFor(cfg.hostname)) }
        : {}),
      // waitOnFirstConnect: an agent started before NATS (or the server) keeps trying instead of exiting.
      waitOnFirstConnect: true,
      name: `hypervisor-agent ${cfg.hostname}`,
      // nats.js makes two stack-traced Errors per request unless told not to (a profile's top frames).
      noAsyncTraces: true,
    });
    return { nc, confined };
  } catch (e) {
    if ((e as { code?: string }).code !== 'AUTHORIZATION_VIOLATION') throw e;
    throw new Error(
      confined
        ? `NATS at ${cfg.natsUrl} refused this node's certificate (revoked, or not yet in its authorization)`
        : token
          ? `NATS at ${cfg.natsUrl} refused the token in ${cfg.natsTokenFile}: copy the server's <data-dir>/nats/token again`
          : `NATS at ${cfg.natsUrl} refused this agent (authorization violation): join the cluster with --join-token (or, in lab mode, give --nats-token-file)`,
      { cause: e },
    );
  }
};
