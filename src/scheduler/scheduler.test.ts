import assert from 'node:assert/strict';
import { GiB, node, req, res } from './fixtures.testing';
import { type CandidateNode, schedule } from './scheduler';

const ids = (d: ReturnType<typeof schedule>) => (d.ok ? d.ranked.map((n) => n.id) : d.reason);

describe('scheduler (pure)', () => {
  describe('filters', () => {
    it('keeps only READY nodes', () => assert.deepEqual(ids(schedule(req(), [node('a', { ready: false, status: 'NOT_READY' }), node('b')])), ['b']));
    it('keeps only nodes that run the kind', () =>
      assert.deepEqual(ids(schedule(req({ kind: 'container' }), [node('a'), node('b', { supported: ['container'] })])), ['b']));
    it('honours region and zone', () => {
      const nodes = [node('a'), node('b', { zone: 'eu-1b' }), node('c', { region: 'us-1', zone: 'us-1a' })];
      assert.deepEqual(ids(schedule(req({ zone: 'eu-1b' }), nodes)), ['b']);
      assert.deepEqual(ids(schedule(req({ region: 'us-1' }), nodes)), ['c']);
    });
    it('keeps only nodes with room for every resource', () =>
      assert.deepEqual(ids(schedule(req(), [node('a', { allocated: res(7, 0) }), node('b', { allocated: res(0, 13) }), node('c', { allocated: res(6, 12) })])), ['c']));
    it('takes only the preferred node when one is named', () =>
      assert.deepEqual(ids(schedule(req({ preferredNodeId: 'b' }), [node('a'), node('b', { allocated: res(4, 8) })])), ['b']));
    it('leaves out the nodes an earlier attempt failed on', () =>
      assert.deepEqual(ids(schedule(req({ avoidNodeIds: ['a'] }), [node('a'), node('b')])), ['b']));
    it('keeps only nodes whose storage holds its disks and the volumes that come along', () => {
      const disk = (free: number): Partial<CandidateNode> => ({ capacity: { ...res(8, 16), diskBytes: 10 * GiB }, allocated: { ...res(0, 0), diskBytes: 10 * GiB - free } });
      const nodes = [node('a', disk(3 * GiB)), node('b', disk(5 * GiB)), node('c', disk(6 * GiB))];
      const withDisks = { ...res(2, 4), diskBytes: 4 * GiB };
      assert.deepEqual((ids(schedule(req({ resources: withDisks }), nodes)) as string[]).slice().sort(), ['b', 'c']);
      assert.deepEqual((ids(schedule(req({ resources: withDisks, volumeBytes: GiB }), nodes)) as string[]).slice().sort(), ['b', 'c'], 'exactly as much as is free fits');
      assert.deepEqual(ids(schedule(req({ resources: withDisks, volumeBytes: GiB + 1 }), nodes)), ['c']);
    });
    it('takes only the node with its disks when pinned', () =>
      assert.deepEqual(ids(schedule(req({ pinnedNodeId: 'a' }), [node('a', { allocated: res(4, 8) }), node('b')])), ['a']));
  });

  describe('weighers', () => {
    const nodes = [node('full', { allocated: res(4, 8) }), node('empty'), node('half', { allocated: res(2, 4) })];
    it('spread puts it on the emptiest node', () => assert.deepEqual(ids(schedule(req(), nodes, 'spread')), ['empty', 'half', 'full']));
    it('bin-pack puts it on the fullest node that fits', () => assert.deepEqual(ids(schedule(req(), nodes, 'binpack')), ['full', 'half', 'empty']));
    it('orders equal nodes differently for different instances', () => {
      const same = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => node(id));
      const firsts = new Set(['i-1', 'i-2', 'i-3', 'i-4', 'i-5', 'i-6', 'i-7', 'i-8'].map((instanceId) => (schedule(req({ instanceId }), same) as { ranked: CandidateNode[] }).ranked[0].id));
      assert.ok(firsts.size > 1);
    });
    it('gives the best few as the whole ranking starts, with the nodes asked for first', () => {
      // Many equal nodes (ties) and some fuller ones, for both weighers and a few instances.
      const many = Array.from({ length: 60 }, (_, k) => node(`n${k}`, { allocated: res(k % 3, 2 * (k % 3)) }));
      const first = (n: CandidateNode) => n.id === 'n7' || n.id === 'n41';
      for (const weigher of ['spread', 'binpack'] as const)
        for (const instanceId of ['i-1', 'i-2', 'i-3']) {
          const whole = ids(schedule(req({ instanceId }), many, weigher)) as string[];
          const firstOnes: string[] = whole.filter((id) => id === 'n7' || id === 'n41');
          const expected = [...firstOnes, ...whole.filter((id) => !firstOnes.includes(id))];
          for (const limit of [1, 2, 5, 59, 60, 100]) {
            assert.deepEqual(ids(schedule(req({ instanceId }), many, weigher, { limit, first })), expected.slice(0, limit));
            assert.deepEqual(ids(schedule(req({ instanceId }), many, weigher, { limit })), whole.slice(0, limit));
          }
        }
    });
  });

  describe('when nothing fits', () => {
    it('says RESOURCE_EXHAUSTED with what is needed and why each node is out', () => {
      const d = schedule(req(), [node('a', { allocated: res(8, 0) }), node('b', { allocated: res(7, 0) }), node('c', { ready: false, status: 'NOT_READY' })]);
      assert.equal(d.ok, false);
      if (d.ok) return;
      assert.equal(d.reason, 'RESOURCE_EXHAUSTED: no node can run this vm (needs 2 CPU, 4 GiB memory): 2 nodes short of cpu_cores; 1 node NOT_READY');
      assert.equal(d.exhausted, false);
    });
    it('says how many bytes of storage a node short of disk has free, against what is needed', () => {
      const full = node('a', { capacity: { ...res(8, 16), diskBytes: 10 * GiB }, allocated: { ...res(0, 0), diskBytes: 9 * GiB } });
      const d = schedule(req({ resources: { ...res(2, 4), diskBytes: GiB }, volumeBytes: 2 * GiB }), [full]);
      assert.ok(!d.ok);
      assert.equal(d.reason, `RESOURCE_EXHAUSTED: no node can run this vm (needs 2 CPU, 4 GiB memory, 3 GiB disk): 1 node short of disk_bytes (needs ${3 * GiB} bytes of storage, ${GiB} free)`);
      assert.equal(d.exhausted, true, 'storage is capacity too');
    });
    it('is "exhausted" when capacity alone is what is missing', () => {
      const d = schedule(req(), [node('a', { allocated: res(8, 0) })]);
      assert.ok(!d.ok && d.exhausted);
    });
    it('says to wait when capacity held by placements in flight would make a node fit', () => {
      const d = schedule(req(), [node('a', { allocated: res(8, 0), inFlight: res(2, 0) })]);
      assert.ok(!d.ok && d.wait);
      const e = schedule(req(), [node('a', { allocated: res(8, 0), inFlight: res(1, 0) })]);
      assert.ok(!e.ok && !e.wait, 'one CPU in flight is not enough for two');
    });
    it('names an empty cluster', () => assert.match(ids(schedule(req(), [])) as string, /no node is registered/));
    it('names a preferred node that does not exist', () => assert.match(ids(schedule(req({ preferredNodeId: 'zz' }), [node('a')])) as string, /preferred node zz is not registered/));
  });
});
