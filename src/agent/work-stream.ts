import { AckPolicy, DeliverPolicy, DiscardPolicy, type JetStreamManager, RetentionPolicy, StorageType } from 'nats';
import { ensureStream } from '../eventstore/jetstream/ensure-stream';
import { consumerName, nodeWorkFilter, WORK_STREAM, WORK_SUBJECTS } from './protocol';

const DAY_NS = 24 * 3600 * 1e9;

/** The agents' work stream; the server and every agent make sure it exists (same settings). */
export const ensureWorkStream = (jsm: JetStreamManager, replicas = 1): Promise<void> =>
  ensureStream(jsm, {
    name: WORK_STREAM,
    subjects: [WORK_SUBJECTS],
    // A message is gone once its agent acknowledged it; until then it waits, however long the agent is away.
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    num_replicas: replicas,
    discard: DiscardPolicy.Old,
    // Work for a node that never returns does not pile up forever; its instances are failed long before.
    max_age: 7 * DAY_NS,
    duplicate_window: 120 * 1e9,
  });

const NS = 1e9;

/**
 * A node's durable work consumer (filter: its own subjects). The agent makes
 * it on an open NATS; on a confined one the control plane does, when the
 * node joins, so a node never chooses its consumer's filter.
 */
export const ensureNodeConsumer = async (jsm: JetStreamManager, nodeId: string): Promise<void> => {
  const name = consumerName(nodeId);
  try {
    await jsm.consumers.info(WORK_STREAM, name);
  } catch {
    await jsm.consumers.add(WORK_STREAM, {
      durable_name: name,
      filter_subject: nodeWorkFilter(nodeId),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: 30 * NS,
      max_deliver: -1,
      max_ack_pending: 1024,
    });
  }
};
