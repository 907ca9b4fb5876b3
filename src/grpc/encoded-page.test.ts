import assert from 'node:assert/strict';
import { ListNodesResponse, Node } from '../gen/hypervisor/v1/cluster';
import { InstanceState, NodeStatus } from '../gen/hypervisor/v1/common';
import { Instance, ListInstancesResponse } from '../gen/hypervisor/v1/compute';
import { ListPortsResponse, Port } from '../gen/hypervisor/v1/network';
import { EncodedAnswer } from './encoded-answer';
import { EncodedItems, encodedPage } from './encoded-page';

const bytesOf = (answer: unknown): Buffer => {
  assert.ok(answer instanceof EncodedAnswer, 'a page is an EncodedAnswer');
  return answer.bytes;
};

describe('list pages from their objects\' kept bytes', () => {
  // Objects with every kind of field a page holds: strings, enums, maps, nested messages, repeated fields, timestamps.
  const instance = (i: number) =>
    Instance.fromPartial({
      id: `i-${i}`,
      name: `name-${'é'.repeat(i % 3)}-${i}`,
      state: (i % 5) as InstanceState,
      nodeId: i % 2 ? `n-${i}` : '',
      metadata: { labels: { app: `a${i % 4}` }, annotations: i % 3 ? {} : { note: 'x'.repeat(200) } },
      createdAt: new Date(1_700_000_000_000 + i * 1_234),
    });
  const port = (i: number) => Port.fromPartial({ id: `p-${i}`, networkId: 'net', macAddress: `02:00:00:00:00:${(i % 256).toString(16).padStart(2, '0')}`, subnetId: 's', ipAddress: `10.0.0.${i % 256}`, createdAt: new Date(1_700_000_000_000 - i) });
  const node = (i: number) => Node.fromPartial({ id: `n-${i}`, hostname: `h${i}`, status: NodeStatus.NODE_STATUS_READY, conditions: [{ type: 'Ready', status: 'True' }], lastSeen: i % 2 ? new Date(1_700_000_000_000 + i) : undefined });

  it('given pages of instances, ports and nodes, when encoded from their kept bytes, then the bytes are those of the response\'s own encoder', () => {
    const kept = new EncodedItems<Instance>((i) => Instance.encode(i).finish());
    for (const n of [0, 1, 7, 100]) {
      const instances = Array.from({ length: n }, (_, i) => instance(i));
      const ports = Array.from({ length: n }, (_, i) => port(i));
      const nodes = Array.from({ length: n }, (_, i) => node(i));
      for (const [token, total] of [['', 0], ['eyJhIjoiaS05OSJ9.abc', n * 3]] as const) {
        const list = { instances, nextPageToken: token, totalCount: total };
        // Kept bytes, the second time from what was kept (names hold non-ASCII characters: bytes past 127).
        for (let time = 0; time < 2; time++) {
          const got = encodedPage(list, instances.map((i) => kept.of(i)), token, total);
          assert.deepEqual(bytesOf(got), Buffer.from(ListInstancesResponse.encode(list).finish()), `instances: ${n}, token "${token}"`);
        }
        const mixed = encodedPage(list, instances.map((i, k) => (k % 2 ? kept.of(i) : Instance.encode(i).finish())), token, total);
        assert.deepEqual(bytesOf(mixed), Buffer.from(ListInstancesResponse.encode(list).finish()), 'kept strings and bytes in one page');
        const nodeList = { nodes, nextPageToken: token, totalCount: total };
        const gotNodes = encodedPage(nodeList, nodes.map((x) => Node.encode(x).finish()), token, total);
        assert.deepEqual(bytesOf(gotNodes), Buffer.from(ListNodesResponse.encode(nodeList).finish()));
      }
      const portList = { ports, nextPageToken: n ? 'next' : '' };
      assert.deepEqual(bytesOf(encodedPage(portList, ports.map((p) => Port.encode(p).finish()), portList.nextPageToken)), Buffer.from(ListPortsResponse.encode(portList).finish()));
    }
  });

  it('given objects whose lengths take one to three bytes of varint, when paged, then each length is written as the encoder writes it', () => {
    const kept = new EncodedItems<Instance>((i) => Instance.encode(i).finish());
    const instances = [10, 100, 200, 16_000, 17_000, 70_000].map((n, i) => ({ ...instance(i), metadata: { labels: {}, annotations: { note: 'y'.repeat(n) } } }));
    const list = { instances, nextPageToken: '', totalCount: 2 ** 31 - 1 };
    assert.deepEqual(bytesOf(encodedPage(list, instances.map((i) => kept.of(i)), '', list.totalCount)), Buffer.from(ListInstancesResponse.encode(list).finish()));
  });

  it('given an encoded page, when sent, then the message it stands for is beside its bytes', () => {
    const list = { instances: [instance(1)], nextPageToken: '', totalCount: 1 };
    const answer = encodedPage(list, [Instance.encode(list.instances[0]).finish()], '', 1) as unknown as EncodedAnswer<unknown>;
    assert.equal(answer.message, list);
    assert.deepEqual(ListInstancesResponse.decode(answer.bytes), list);
  });

  it('given an object listed twice, when its bytes are asked for, then they are made once; a new version of it is encoded anew', () => {
    let encoded = 0;
    const items = new EncodedItems<Instance>((i) => (encoded++, Instance.encode(i).finish()));
    const bytes = (kept: string) => Buffer.from(kept, 'latin1');
    const v1 = instance(5); // a name with 'é': bytes past 127, one character each
    const first = items.of(v1);
    assert.equal(items.of(v1), first, 'the same bytes, not made again');
    assert.deepEqual(bytes(first), Buffer.from(Instance.encode(v1).finish()));
    assert.equal(encoded, 1);
    const v2 = { ...v1, state: InstanceState.INSTANCE_STATE_RUNNING };
    const second = items.of(v2);
    assert.equal(encoded, 2);
    assert.equal(Instance.decode(bytes(second)).state, InstanceState.INSTANCE_STATE_RUNNING);
    assert.equal(Instance.decode(bytes(items.of(v1))).state, v1.state, 'each version keeps its own bytes');
  });
});
