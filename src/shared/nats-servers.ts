import { Events, type ConnectionOptions, type NatsConnection } from 'nats';
import type { Logger } from 'pino';

/**
 * `--nats-url` names one NATS or several of one cluster, comma separated
 * (`nats://a:4222,nats://b:4222`): nats.js tries them in turn and, once
 * connected, also learns the cluster's other servers from the one it reached.
 */
export const natsServers = (url: string): string[] => {
  const servers = url
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (servers.length === 0) throw new Error(`--nats-url: "${url}" names no NATS server`);
  return servers;
};

/** What every long-lived NATS client of ours sets: reconnect forever, quickly, to any server of the list. */
export const failoverOptions = (url: string): Pick<ConnectionOptions, 'servers' | 'maxReconnectAttempts' | 'reconnectTimeWait' | 'noRandomize' | 'pingInterval' | 'maxPingOut'> => ({
  servers: natsServers(url),
  maxReconnectAttempts: -1,
  reconnectTimeWait: 250,
  // A server cut off (a partition, a machine gone without a reset) is noticed after two unanswered pings, 10 s,
  // not nats.js's 2 × 2 minutes: until then subscriptions (the read models' feed) hear nothing.
  pingInterval: 5_000,
  maxPingOut: 2,
  // Spread the clients over the cluster instead of all on the first URL.
  noRandomize: false,
});

/**
 * Logs the connection moving between servers: which one was lost, which one
 * it came back on (a failover when they differ), and the servers the cluster
 * told it about. Ends when the connection closes.
 */
export const logFailover = (nc: NatsConnection, log: Logger): void => {
  let lost: string | undefined;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === Events.Disconnect) {
        lost = String(s.data);
        log.warn({ server: lost }, 'NATS server lost: reconnecting to the next one');
      } else if (s.type === Events.Reconnect) {
        const server = String(s.data);
        log.info({ server, from: lost }, lost && lost !== server ? 'NATS failed over to another server' : 'NATS connection back');
        lost = undefined;
      } else if (s.type === Events.Update) {
        log.info({ cluster: s.data }, 'NATS cluster servers changed');
      }
    }
  })().catch(() => undefined);
};
