import assert from 'node:assert/strict';
import { InvalidArgument } from '../errors';
import { validateVolumeMounts } from './volume-mounts';

const m = (name: string, mountPath = '/data') => ({ name, mountPath, readOnly: false });

describe('volume mounts', () => {
  it('accepts names that stay a directory of their own', () => validateVolumeMounts([m('data'), m('db.v2', '/var/lib/db'), m('a_b-c', '/x/')]));
  for (const [what, mounts, field] of [
    ['..', [m('..')], /^spec.volume_mounts\[0\].name/],
    ['a path', [m('a/b')], /^spec.volume_mounts\[0\].name/],
    ['a hidden name', [m('.x')], /^spec.volume_mounts\[0\].name/],
    ['double dots inside', [m('a..b')], /^spec.volume_mounts\[0\].name/],
    ['an empty name', [m('')], /^spec.volume_mounts\[0\].name: is required/],
    ['a relative mount path', [m('a', 'data')], /^spec.volume_mounts\[0\].mount_path: .* absolute/],
    ['/ as mount path', [m('a', '/')], /^spec.volume_mounts\[0\].mount_path/],
    ['.. in the mount path', [m('a', '/x/../etc')], /^spec.volume_mounts\[0\].mount_path/],
    ['the same path twice', [m('a', '/d'), m('b', '/d/')], /^spec.volume_mounts\[1\].mount_path: \/d is mounted twice/],
  ] as const)
    it(`refuses ${what}`, () => assert.throws(() => validateVolumeMounts(mounts), (e: Error) => e instanceof InvalidArgument && field.test(e.message)));
});
