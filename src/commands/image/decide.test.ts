import { InvalidArgument } from '../../errors';
import { deciderSpec } from '../testing';
import type { ImageDetails } from './state';
import { imageDecider, imageIdFor } from './index';

const URL = 'http://images.test/guest/disk.raw';
const details = (over: Partial<ImageDetails> = {}): ImageDetails => ({
  url: URL,
  name: 'disk.raw',
  sha256: 'a'.repeat(64),
  sizeBytes: 16 * 2 ** 20,
  format: 'raw',
  ...over,
});
const given = deciderSpec(imageDecider, imageIdFor(URL));

describe('image decider', () => {
  it('registers a pulled image', () =>
    given([]).when({ type: 'RegisterImage', data: details() }).then([{ type: 'ImageRegistered', data: details() }]));
  it('adds nothing when the same bytes are pulled again', () =>
    given([{ type: 'ImageRegistered', data: details() }]).when({ type: 'RegisterImage', data: details() }).then([]));
  it('records new bytes behind the same URL', () =>
    given([{ type: 'ImageRegistered', data: details() }])
      .when({ type: 'RegisterImage', data: details({ sha256: 'b'.repeat(64) }) })
      .then([{ type: 'ImageUpdated', data: details({ sha256: 'b'.repeat(64) }) }]));
  it('registers an OCI image by its tag, pinned by the manifest digest', () => {
    const oci = details({ url: 'oci://127.0.0.1:5000/test/busybox:1', name: 'test/busybox:1', format: 'oci', kind: 'container' });
    return deciderSpec(imageDecider, imageIdFor(oci.url))([]).when({ type: 'RegisterImage', data: oci }).then([{ type: 'ImageRegistered', data: oci }]);
  });
  for (const [what, over, message] of [
    ['an oci:// reference with tag and digest', { url: `oci://r.example/a:1@sha256:${'c'.repeat(64)}`, format: 'oci' }, /tag or its digest/],
    ['an oci:// reference of another format', { url: 'oci://r.example/a:1', format: 'raw' }, /format oci/],
    ['format oci for an http URL', { format: 'oci' }, /for oci:\/\//],
    ['a URL of another image', { url: 'http://images.test/other' }, /belongs to image/],
    ['a bad checksum', { sha256: 'xyz' }, /sha256: 64/],
    ['an unknown format', { format: 'iso' }, /format: "iso"/],
    ['a URL with its fragment', { url: `${URL}#sha256=${'a'.repeat(64)}` }, /without its #sha256/],
  ] as const)
    it(`refuses ${what}`, () => given([]).when({ type: 'RegisterImage', data: details(over as Partial<ImageDetails>) }).thenThrows(InvalidArgument, message));
});
