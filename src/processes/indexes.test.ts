import assert from 'node:assert/strict';
import { instanceDecider, type InstanceState } from '../commands/instance';
import { resourcesFor } from '../commands/instance/validate';
import type { InstanceRequest, InstanceSpecData } from '../commands/instance/spec';
import type { Instance } from '../gen/hypervisor/v1/compute';
import { DecidedLog } from '../projections/decided-log';
import { EntityReadModel } from '../projections/entity-read-model';
import { instanceTerms } from '../projections/list-terms';
import { withLaterMade } from '../projections/snapshot';
import { decodeSnapshot, encodeSnapshot } from '../projections/snapshot-codec';
import { toInstance } from '../wire/views/instance';
import { InstancesByNode } from './indexes';

const spec: InstanceSpecData = {
  image: '',
  cpuCores: 1,
  memoryBytes: 128 * 2 ** 20,
  disks: [],
  kernel: 'http://images.test/vmlinuz',
  initrd: '',
  kernelArgs: '',
  command: [],
  args: [],
  env: {},
  volumeMounts: [],
};
const request = (name: string): InstanceRequest => ({
  name,
  kind: 'vm',
  spec,
  images: {},
  labels: {},
  annotations: {},
  placement: { preferredNodeId: '', region: '', zone: '' },
  resources: resourcesFor(spec, {}),
});
const model = () => new EntityReadModel<InstanceState, Instance>({ decider: instanceDecider, view: toInstance, terms: instanceTerms });

describe('instances by node', () => {
  // a and b placed on n1, c on n2, d not placed; b deleted by its node's report.
  const log = new DecidedLog();
  for (const id of ['a', 'b', 'c', 'd']) log.send(instanceDecider, id, { type: 'CreateInstance', data: request(id) });
  for (const [id, node] of [['a', 'n1'], ['b', 'n1'], ['c', 'n2']]) log.send(instanceDecider, id, { type: 'ScheduleInstance', data: { nodeId: node, nodeName: node } });
  log.send(instanceDecider, 'b', { type: 'DeleteInstance', data: { force: false } });
  const whileDeleting = log.commits.length;
  log.send(instanceDecider, 'b', { type: 'ReportInstanceDeleted', data: { nodeId: 'n1', generation: 2 } });

  it('answers the instances on a node from the read model as it is: placed, until its node reports it deleted; never placed', () => {
    const m = model();
    for (const c of log.commits.slice(0, whileDeleting)) m.applyCommit(c);
    const byNode = new InstancesByNode(m);
    assert.deepEqual(byNode.on('n1'), ['a', 'b'], 'b is still on n1 while its node deletes it');
    m.applyCommit(log.commits[whileDeleting]);
    assert.equal(m.get('b'), undefined);
    assert.deepEqual([byNode.on('n1'), byNode.on('n2'), byNode.on('n3'), byNode.on('')], [['a'], ['c'], [], []]);
  });

  it('answers the same from a model restored from a snapshot (its list index read back packed)', async () => {
    const m = model();
    log.feed(m);
    const restored = model();
    restored.restore(decodeSnapshot(encodeSnapshot(await withLaterMade(m.snapshot()))), m.position);
    const byNode = new InstancesByNode(restored);
    assert.deepEqual([byNode.on('n1'), byNode.on('n2'), byNode.on('')], [['a'], ['c'], []]);
  });
});
