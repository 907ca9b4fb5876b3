import assert from 'node:assert/strict';
import { InvalidArgument } from '../errors';
import { formatOciRef, parseOciRef, skopeoName } from './oci-reference';

const D = `sha256:${'ab'.repeat(32)}`;

describe('oci:// references', () => {
  for (const [ref, want] of [
    ['oci://127.0.0.1:5000/test/busybox:1', { registry: '127.0.0.1:5000', repository: 'test/busybox', tag: '1' }],
    ['oci://registry.example/library/alpine', { registry: 'registry.example', repository: 'library/alpine', tag: 'latest' }],
    [`oci://r.example:443/a/b@${D}`, { registry: 'r.example:443', repository: 'a/b', digest: D }],
    [`oci://r.example/a:v1.2@${D}`, { registry: 'r.example', repository: 'a', tag: 'v1.2', digest: D }],
  ] as const)
    it(`parses ${ref}`, () => {
      const r = parseOciRef('image_ref', ref);
      assert.deepEqual(r, want);
      // Written out again it is the same reference (a tag-less one gains :latest).
      assert.equal(parseOciRef('x', formatOciRef(r)).repository, want.repository);
    });

  for (const [ref, message] of [
    ['http://r.example/a:1', /not an oci:\/\/ reference/],
    ['oci://busybox:1', /names no registry/],
    ['oci://r.example/Upper/case:1', /must be lower-case/],
    ['oci://r.example/a:bad tag', /tag "bad tag"/],
    ['oci://r.example/a@sha256:1234', /digest "sha256:1234"/],
    ['oci://r_bad.example/a', /registry "r_bad.example"/],
    ['oci://r.example/:1', /names no repository/],
  ] as const)
    it(`refuses ${ref}`, () =>
      assert.throws(() => parseOciRef('image_ref', ref), (e: Error) => e instanceof InvalidArgument && message.test(e.message) && e.message.startsWith('image_ref: ')));

  it('pulls by digest when there is one', () => {
    assert.equal(skopeoName(parseOciRef('x', `oci://r.example/a:1@${D}`)), `docker://r.example/a@${D}`);
    assert.equal(skopeoName(parseOciRef('x', 'oci://r.example/a:1')), 'docker://r.example/a:1');
  });

});
