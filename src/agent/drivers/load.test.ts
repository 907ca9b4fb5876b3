import assert from 'node:assert/strict';
import type { InstanceDriver } from './driver';
import { HollowDriver } from './hollow/hollow-driver';
import { builtinDrivers, loadDrivers } from './load';

describe('loadDrivers', () => {
  it('loads the drivers whose probe passes and reports the others as unsupported', async () => {
    const failing: InstanceDriver = Object.assign(new HollowDriver({ supports: ['container'] }), {
      kind: 'oci',
      probe: async () => ({ ok: false as const, reason: 'crun is not installed' }),
    });
    const loaded = await loadDrivers(
      { kinds: ['oci', 'hollow', 'nope', 'throws'] },
      {
        ...builtinDrivers,
        oci: () => failing,
        throws: () => {
          throw new Error('boom');
        },
      },
    );
    assert.deepEqual([...loaded.drivers.keys()], ['hollow']);
    assert.deepEqual(loaded.unsupported, [
      { kind: 'oci', reason: 'crun is not installed' },
      { kind: 'nope', reason: 'no driver of kind nope is built in (known: qemu, hollow, oci, throws)' },
      { kind: 'throws', reason: 'probe failed: boom' },
    ]);
    assert.equal(loaded.forType('vm')?.kind, 'hollow');
  });

  it('picks, per instance type, the first configured kind that runs it', async () => {
    const loaded = await loadDrivers(
      { kinds: ['a', 'b'] },
      {
        a: () => Object.assign(new HollowDriver({ supports: ['vm'] }), { kind: 'a' }),
        b: () => Object.assign(new HollowDriver({ supports: ['vm', 'container'] }), { kind: 'b' }),
      },
    );
    assert.equal(loaded.forType('vm')?.kind, 'a');
    assert.equal(loaded.forType('container')?.kind, 'b');
    assert.equal(loaded.forType('microvm'), undefined);
  });

  it('a qemu driver without a state dir is unsupported, not a crash', async () => {
    const loaded = await loadDrivers({ kinds: ['qemu'] });
    assert.equal(loaded.drivers.size, 0);
    assert.match(loaded.unsupported[0].reason, /stateDir/);
  });
});
