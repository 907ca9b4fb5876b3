import assert from 'node:assert/strict';
import type { Resources } from '../domain/resources';
import { FailedPrecondition, NotFound } from '../errors';
import { chooseMigrationTarget, type MigrationRequest } from './migration';
import type { CandidateNode } from './scheduler';

const GiB = 2 ** 30;
const res = (cpuCores: number, memGiB: number): Resources => ({ cpuCores, memoryBytes: memGiB * GiB, diskBytes: 0, gpuCount: 0 });
const node = (id: string, over: Partial<CandidateNode> = {}): CandidateNode => ({
  id,
  hostname: `host-${id}`,
  ready: true,
  status: 'READY',
  region: '',
  zone: '',
  supported: ['vm', 'microvm', 'container'],
  capacity: res(8, 16),
  allocated: res(0, 0),
  ...over,
});
const req = (over: Partial<MigrationRequest> = {}): MigrationRequest => ({
  instanceId: 'i-1',
  kind: 'vm',
  resources: res(2, 4),
  sourceNodeId: 'a',
  targetNodeId: '',
  region: '',
  zone: '',
  ...over,
});
const refuses = (f: () => unknown, type: new (...a: never[]) => Error, message: RegExp) =>
  assert.throws(f, (e: unknown) => e instanceof type && message.test((e as Error).message));

describe('migration target (pure)', () => {
  describe('given no target', () => {
    it('lets the scheduler choose among the other nodes, emptiest first, never the source', () =>
      assert.equal(chooseMigrationTarget(req(), [node('a'), node('b', { allocated: res(4, 8) }), node('c')]).id, 'c'));
    it('skips nodes that are not READY, lack room, or do not run the kind', () =>
      assert.equal(
        chooseMigrationTarget(req({ kind: 'microvm' }), [
          node('a'),
          node('b', { ready: false, status: 'DRAINING' }),
          node('c', { allocated: res(7, 0) }),
          node('d', { supported: ['container'] }),
          node('e', { allocated: res(6, 12) }),
        ]).id,
        'e',
      ));
    it('refuses with FAILED_PRECONDITION saying why when no other node fits', () =>
      refuses(
        () => chooseMigrationTarget(req(), [node('a'), node('b', { allocated: res(8, 0) }), node('c', { ready: false, status: 'NOT_READY' })]),
        FailedPrecondition,
        /^instance i-1 cannot move: no node can run this vm \(needs 2 CPU, 4 GiB memory\): 1 node short of cpu_cores; 1 node NOT_READY$/,
      ));
    it('chooses a node whose storage holds the volumes that come along, not only its own disks', () => {
      const free = (bytes: number): Partial<CandidateNode> => ({ capacity: { ...res(8, 16), diskBytes: 10 * GiB }, allocated: { ...res(0, 0), diskBytes: 10 * GiB - bytes } });
      const nodes = [node('a'), node('b', free(2 * GiB)), node('c', { ...free(5 * GiB), allocated: { ...res(6, 12), diskBytes: 5 * GiB } })];
      // Spread would take b (emptier in CPU and memory); only c holds the 4 GiB of volumes.
      assert.equal(chooseMigrationTarget(req({ resources: { ...res(2, 4), diskBytes: GiB } }), nodes).id, 'b');
      assert.equal(chooseMigrationTarget(req({ resources: { ...res(2, 4), diskBytes: GiB }, volumeBytes: 4 * GiB }), nodes).id, 'c');
    });
    it('refuses when the source is the only node', () => refuses(() => chooseMigrationTarget(req(), [node('a')]), FailedPrecondition, /there is no other node/));
  });

  describe('given a target', () => {
    it('takes it when it is READY with room', () => assert.equal(chooseMigrationTarget(req({ targetNodeId: 'b' }), [node('a'), node('b', { allocated: res(6, 12) }), node('c')]).id, 'b'));
    it('refuses a target that is not READY', () =>
      refuses(() => chooseMigrationTarget(req({ targetNodeId: 'b' }), [node('a'), node('b', { ready: false, status: 'in MAINTENANCE' })]), FailedPrecondition, /cannot move to node host-b: .*1 node in MAINTENANCE/));
    it('refuses a target without room, naming the resource', () =>
      refuses(() => chooseMigrationTarget(req({ targetNodeId: 'b' }), [node('a'), node('b', { allocated: res(0, 13) })]), FailedPrecondition, /cannot move to node host-b: .*short of memory_bytes/));
    it('refuses a target whose storage cannot hold its disks and attached volumes, saying the bytes needed and free', () => {
      const b = node('b', { capacity: { ...res(8, 16), diskBytes: 10 * GiB }, allocated: { ...res(0, 0), diskBytes: 8 * GiB } });
      const withDisk = { ...res(2, 4), diskBytes: GiB };
      assert.equal(chooseMigrationTarget(req({ targetNodeId: 'b', resources: withDisk, volumeBytes: GiB }), [node('a'), b]).id, 'b');
      refuses(
        () => chooseMigrationTarget(req({ targetNodeId: 'b', resources: withDisk, volumeBytes: 2 * GiB }), [node('a'), b]),
        FailedPrecondition,
        new RegExp(`^instance i-1 cannot move to node host-b: no node can run this vm \\(needs 2 CPU, 4 GiB memory, 3 GiB disk\\): 1 node short of disk_bytes \\(needs ${3 * GiB} bytes of storage, ${2 * GiB} free\\)$`),
      );
    });
    it('refuses a target that does not run the kind', () =>
      refuses(() => chooseMigrationTarget(req({ kind: 'container', targetNodeId: 'b' }), [node('a'), node('b', { supported: ['vm'] })]), FailedPrecondition, /does not run container instances/));
    it('refuses the node it is on', () => refuses(() => chooseMigrationTarget(req({ targetNodeId: 'a' }), [node('a'), node('b')]), FailedPrecondition, /already on node host-a/));
    it('says NOT_FOUND for a node that is not registered', () => refuses(() => chooseMigrationTarget(req({ targetNodeId: 'zz' }), [node('a')]), NotFound, /target_node_id: node zz not found/));
  });
});
