import assert from 'node:assert/strict';
import { ClusterServiceService, NodeEvent } from '../gen/hypervisor/v1/cluster';
import { acceptEncoded, EncodedAnswer, SharedEncodings } from './encoded-answer';

describe('answers encoded once for many streams', () => {
  const event = NodeEvent.fromPartial({ type: 1, node: { id: 'n1', hostname: 'h' }, revision: 7n });

  it('given a service taking encoded answers, when one is sent, then its bytes go as they are; any other answer is serialized as before', () => {
    const method = acceptEncoded(ClusterServiceService).watchNodes;
    const own = ClusterServiceService.watchNodes.responseSerialize(event);
    assert.deepEqual(method.responseSerialize(event), own);
    const bytes = Buffer.from([1, 2, 3]);
    assert.equal(method.responseSerialize(new EncodedAnswer(event, bytes)), bytes);
    // Requests are read as before.
    assert.equal(method.path, '/hypervisor.v1.ClusterService/WatchNodes');
  });

  it('given a key shared by several watchers, when each asks for its answer, then it is made and serialized once', () => {
    let serialized = 0;
    let made = 0;
    const shared = new SharedEncodings<object, NodeEvent>((m) => (serialized++, Buffer.from(NodeEvent.encode(m).finish())));
    const change = {};
    const first = shared.of(change, () => (made++, event));
    const second = shared.of(change, () => (made++, event));
    assert.equal(second, first);
    assert.deepEqual([made, serialized], [1, 1]);
    assert.deepEqual(NodeEvent.decode(first.bytes), NodeEvent.decode(ClusterServiceService.watchNodes.responseSerialize(event)));
    shared.of({}, () => (made++, event));
    assert.deepEqual([made, serialized], [2, 2], 'another change is another answer');
    shared.of(change, () => (made++, event));
    assert.deepEqual([made, serialized], [3, 3], 'only the last answer is kept');
  });
});
