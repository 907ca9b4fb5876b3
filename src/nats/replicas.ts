import type { JetStreamManager, NatsConnection } from 'nats';
import type { Logger } from 'pino';

/**
 * How many nats-servers the connected one is clustered with, itself included:
 * every server of a cluster tells its clients the others' client URLs
 * (INFO connect_urls). All of ours run JetStream (scripts/cluster.sh).
 */
export const clusterSize = (nc: NatsConnection): number => {
  const info = nc.info;
  if (!info?.cluster) return 1;
  const urls = new Set(info.connect_urls ?? []);
  urls.add(`${info.host}:${info.port}`);
  return Math.max(1, urls.size);
};

/**
 * `--log-replicas`, or its default: 1 on the embedded NATS (one server), 3
 * once the cluster has three servers or more (a quorum of 2 survives the loss
 * of any one).
 */
export const logReplicas = (configured: number | undefined, nc: NatsConnection, embedded: boolean): number => {
  if (configured) return configured;
  if (embedded) return 1;
  return clusterSize(nc) >= 3 ? 3 : 1;
};

/**
 * Raises an existing stream (a KV bucket is `KV_<bucket>`, an object store
 * `OBJ_<bucket>`) to `replicas` when it has fewer: JetStream copies it to the
 * new peers itself. A stream with more is left alone (the operator's), a
 * missing one is not made here.
 */
export const raiseReplicas = async (jsm: JetStreamManager, stream: string, replicas: number, log?: Logger): Promise<boolean> => {
  let config;
  try {
    config = (await jsm.streams.info(stream)).config;
  } catch (e) {
    // JetStream's "stream not found" (10059): nothing to raise.
    if ((e as { api_error?: { err_code?: number } })?.api_error?.err_code === 10059) return false;
    throw e;
  }
  if ((config.num_replicas ?? 1) >= replicas) return false;
  await jsm.streams.update(stream, { ...config, num_replicas: replicas });
  log?.info({ stream, from: config.num_replicas ?? 1, to: replicas }, 'stream raised to more replicas');
  return true;
};
