import assert from 'node:assert/strict';
import { Instance } from '../gen/hypervisor/v1/compute';
import { INSTANCE } from './instance-read';
import { NAMES } from './names';
import { Printer } from './print';

/** A printer whose lines are kept instead of written. */
class Captured extends Printer {
  lines: string[] = [];
  override out(s: string): void {
    this.lines.push(...s.split('\n'));
  }
}

const vm = (over: Partial<Instance>) =>
  Instance.fromPartial({ id: '6f1c2a4e-8d7b-4c3e-9a1f-2b3c4d5e6f70', name: 'demo', type: 2, state: 3, nodeId: 'n-1-0000-uuid', ipAddress: '10.0.0.4', spec: { cpuCores: 1, memoryBytes: 268435456n }, ...over });

describe('hvctl printer: names in tables, ids with -o wide, watches that line up', () => {
  before(() => NAMES.know('node', [['n-1-0000-uuid', 'host-a']]));

  it('a table shows the node by its name; -o wide adds its id', async () => {
    const table = new Captured('table');
    await table.list(INSTANCE, [vm({})]);
    assert.match(table.lines[0], /^NAME\s+ID\s+TYPE\s+STATE\s+NODE\s+IP/);
    assert.doesNotMatch(table.lines[0], /NODE ID/);
    assert.match(table.lines[1], /\shost-a\s/);
    assert.doesNotMatch(table.lines[1], /n-1-0000-uuid/);
    const wide = new Captured('wide');
    await wide.list(INSTANCE, [vm({})]);
    assert.match(wide.lines[0], /NODE\s+NODE ID/);
    assert.match(wide.lines[1], /host-a\s+n-1-0000-uuid/);
  });

  it('an id no name is known for shows as the id', async () => {
    const table = new Captured('table');
    await table.list(INSTANCE, [vm({ nodeId: 'unknown-node' })]);
    assert.match(table.lines[1], /\sunknown-node\s/);
  });

  it('instance watch: the header printed before any row lines up with the rows that come (issue 19)', async () => {
    const p = new Captured('table');
    await p.watchStart(INSTANCE, []);
    p.watchEvent(INSTANCE, 'ADDED', vm({}));
    p.watchEvent(INSTANCE, 'MODIFIED', vm({ state: 4, ipAddress: '10.0.0.14' }));
    const [header, ...rows] = p.lines;
    for (const col of ['ID', 'STATE', 'NODE', 'IP', 'CPUS']) {
      const at = header.search(new RegExp(`\\b${col}\\b`));
      for (const r of rows) assert.equal(r[at - 1], ' ', `${col} starts at ${at} in:\n${header}\n${r}`);
      for (const r of rows) assert.notEqual(r[at], ' ', `a ${col} cell starts under its header in:\n${header}\n${r}`);
    }
  });
});
