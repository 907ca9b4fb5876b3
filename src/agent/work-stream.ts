import { DiscardPolicy, type JetStreamManager, RetentionPolicy, StorageType } from 'nats';
import { ensureStream } from '../eventstore/jetstream/ensure-stream';
import { WORK_STREAM, WORK_SUBJECTS } from './protocol';

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
