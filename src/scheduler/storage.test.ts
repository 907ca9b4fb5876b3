import assert from 'node:assert/strict';
import { placeVolume, type StorageCandidate, type StorageRequest, storageShort } from './storage';

const GiB = 2 ** 30;
const node = (id: string, over: Partial<StorageCandidate> = {}): StorageCandidate => ({
  id, hostname: id, ready: true, status: 'READY', zone: 'z1', labels: {}, freeBytes: 10 * GiB, keyIds: [], ...over,
});
const req = (over: Partial<StorageRequest> = {}): StorageRequest => ({ sizeBytes: GiB, type: '', preferredNodeId: '', availabilityZone: '', ...over });
const ids = (d: ReturnType<typeof placeVolume>) => (d.ok ? d.ranked.map((n) => n.id) : d.reason);

describe('volume placement', () => {
  it('takes the node with the most free storage first', () =>
    assert.deepEqual(ids(placeVolume(req(), [node('a', { freeBytes: 2 * GiB }), node('b', { freeBytes: 5 * GiB })])), ['b', 'a']));
  it('honours preferred_node_id, availability_zone (the node\'s zone) and the source\'s node', () => {
    const nodes = [node('a'), node('b', { zone: 'z2' })];
    assert.deepEqual(ids(placeVolume(req({ preferredNodeId: 'a' }), nodes)), ['a']);
    assert.deepEqual(ids(placeVolume(req({ availabilityZone: 'z2' }), nodes)), ['b']);
    assert.deepEqual(ids(placeVolume(req({ pinnedNodeId: 'b' }), nodes)), ['b']);
  });
  it('matches type to the hypervisor.storage-type label; unlabelled nodes take any', () => {
    const nodes = [node('a', { labels: { 'hypervisor.storage-type': 'hdd' } }), node('b', { freeBytes: GiB })];
    assert.deepEqual(ids(placeVolume(req({ type: 'hdd' }), nodes)), ['a', 'b']);
    assert.deepEqual(ids(placeVolume(req({ type: 'ssd' }), nodes)), ['b']);
  });
  it('places an encrypted volume only where its key is', () =>
    assert.deepEqual(ids(placeVolume(req({ encryptionKeyId: 'k1' }), [node('a'), node('b', { keyIds: ['k1'] })])), ['b']));
  it('is exhausted when the only thing missing is room, and says why', () => {
    const d = placeVolume(req({ sizeBytes: 20 * GiB }), [node('a'), node('b')]);
    assert.equal(d.ok, false);
    assert.ok(!d.ok && d.exhausted && /2 nodes have not enough storage free \(the most a ready node has free is 10737418240 bytes\)/.test(d.reason));
    const z = placeVolume(req({ availabilityZone: 'z9' }), [node('a')]);
    assert.ok(!z.ok && !z.exhausted && /not in zone z9/.test(z.reason));
  });
  it('has room for exactly what is free, and says both figures when short', () => {
    assert.equal(storageShort(5 * GiB, 5 * GiB), undefined);
    assert.equal(storageShort(5 * GiB, 5 * GiB + 1), `needs ${5 * GiB + 1} bytes of storage, ${5 * GiB} free`);
  });
});
