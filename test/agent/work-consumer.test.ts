import assert from 'node:assert/strict';
import { StringCodec } from 'nats';
import pino from 'pino';
import { consumerName, WORK_STREAM, workSubject } from '../../src/agent/protocol';
import { WorkConsumer } from '../../src/agent/work-consumer';
import { ensureNodeConsumer, ensureWorkStream } from '../../src/agent/work-stream';
import { TestNats } from '../support/nats';
import { until } from '../support/until';

const sc = StringCodec();

/** The agent's work queue on a real nats-server: what it does when its consumer is not there yet. */
describe("an agent's work consumer", function () {
  this.timeout(30_000);
  const nats = new TestNats();
  before(() => nats.start());
  after(() => nats.stop());

  it('starts when its consumer is not made yet (the control plane makes it on a confined NATS), and takes its work once it is', async () => {
    const nodeId = 'wc-late';
    const cp = await nats.connect();
    const jsm = await cp.jetstreamManager();
    await ensureWorkStream(jsm);
    const got: string[] = [];
    const consumer = new WorkConsumer(await nats.connect(), nodeId, { instance: async (_s, data) => void got.push(sc.decode(data)) }, 2, pino({ level: 'silent' }), false);
    await consumer.start();
    try {
      await assert.rejects(jsm.consumers.info(WORK_STREAM, consumerName(nodeId)), 'the agent made no consumer of its own');
      await ensureNodeConsumer(jsm, nodeId);
      await cp.jetstream().publish(workSubject(nodeId, 'i-1'), sc.encode('work for i-1'));
      await until('the work taken', () => got.length > 0 || undefined, 20_000);
      assert.deepEqual(got, ['work for i-1']);
    } finally {
      await consumer.stop();
    }
  });
});
