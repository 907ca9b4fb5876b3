import type { JetStreamManager, StreamConfig } from 'nats';
import { type PlacementWait, whenPlaceable } from './placement';
import { isStreamNotFound } from './errors';

/**
 * Makes sure a JetStream stream exists, making it with `config` if not. An
 * existing stream is left as it is (its settings are the operator's now),
 * except that it gets the replicas asked for if it has fewer (`--log-replicas`
 * raised, a single server grown into a cluster); another process making it at
 * the same moment is not a failure. With `wait`, it waits as that says while
 * JetStream cannot place its replicas yet (a cluster still forming, a member down).
 */
export const ensureStream = (jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }, wait?: PlacementWait): Promise<void> =>
  wait ? whenPlaceable(`stream ${config.name} on ${config.num_replicas ?? 1} servers`, () => ensureOnce(jsm, config), wait) : ensureOnce(jsm, config);

const ensureOnce = async (jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<void> => {
  try {
    const { config: current } = await jsm.streams.info(config.name);
    const want = config.num_replicas ?? 1;
    if ((current.num_replicas ?? 1) < want) await jsm.streams.update(config.name, { ...current, num_replicas: want });
  } catch (e) {
    if (!isStreamNotFound(e)) throw e;
    try {
      await jsm.streams.add(config);
    } catch (err) {
      // Another process made it meanwhile.
      await jsm.streams.info(config.name).catch(() => Promise.reject(err));
    }
  }
};
