import type { ServerWritableStream } from '@grpc/grpc-js';
import { fetchImageOffThread } from '../../images/fetch-off-thread';
import { defaultFetchPolicy } from '../../images/fetch';
import { step } from '../../bus/dispatcher';
import { type ImageDetails, imageIdFor } from '../../commands/image';
import { kindFromProto } from '../../wire/views/instance';
import { imageNameFromUrl, isUrlRef, parseImageUrl } from '../../domain/image-ref';
import { InvalidArgument } from '../../errors';
import { InstanceType } from '../../gen/hypervisor/v1/common';
import type { ComputeServiceServer, PullImageProgress, PullImageRequest } from '../../gen/hypervisor/v1/compute';
import { toInt64 } from '../../wire/int64';
import { pageSize } from '../paging';
import { originOf } from '../request-context';
import { toServiceError } from '../../shared/grpc-status';
import { unary } from '../../shared/grpc-unary';
import type { ComputeServiceDeps } from './context';
import { type OciPullProgress, ociRefFor, pullOciImage } from './pull-oci-image';
import { resolveImage } from '../../projections/resolve-image';

const MiB = 2 ** 20;

export const imageMethods = (d: ComputeServiceDeps): Pick<ComputeServiceServer, 'listImages' | 'pullImage'> => ({
  listImages: unary(d.log, 'ListImages', async (req) => {
    const size = pageSize(req.pageSize);
    if (req.type !== 0 && !kindFromProto(req.type)) throw new InvalidArgument(`type: ${req.type} is not a known value`);
    const matches = d.images.list().filter((i) => req.type === 0 || i.type === req.type);
    const page = d.pager.page(matches, (i) => i.id, { type: req.type }, size, req.pageToken);
    return { images: page.items, nextPageToken: page.nextPageToken };
  }),

  pullImage: (call: ServerWritableStream<PullImageRequest, PullImageProgress>) => {
    void pullImage(d, call);
  },
});

/** PullImage: fetch, hash, verify, record; progress as it goes; an error ends the stream with its message and status. */
const pullImage = async (d: ComputeServiceDeps, call: ServerWritableStream<PullImageRequest, PullImageProgress>) => {
  const progress = (p: Partial<PullImageProgress>) => call.write({ status: '', current: 0n, total: 0n, completed: false, error: '', ...p });
  const aborted = new AbortController();
  call.on('cancelled', () => aborted.abort());
  let current = 0;
  let total = 0;
  try {
    const o = originOf(call);
    const req = call.request;
    if (!req.imageRef) throw new InvalidArgument('image_ref: is required (an http(s) URL, optionally with #sha256=<hex>)');
    const kind = req.type === InstanceType.INSTANCE_TYPE_UNSPECIFIED ? undefined : kindFromProto(req.type);
    if (req.type !== 0 && !kind) throw new InvalidArgument(`type: ${req.type} is not an instance type`);
    const oci = ociRefFor(req.imageRef, d.images);
    if (oci) {
      const register = async (data: ImageDetails) => {
        const id = imageIdFor(data.url);
        await d.dispatcher.execute(step({ ...o, timeoutMs: 10_000, deadline: undefined }, 'register'), 'image', id, { type: 'RegisterImage', data });
        return id;
      };
      const onProgress = (p: OciPullProgress) => {
        current = p.current ?? current;
        total = p.total ?? total;
        progress({ status: p.status, current: toInt64(current), total: toInt64(total), completed: p.completed ?? false });
      };
      await pullOciImage(oci, kind, { policy: d.imagePolicy ?? defaultFetchPolicy(), signal: aborted.signal, progress: onProgress, register });
      call.end();
      return;
    }
    let url: string;
    let sha256: string | undefined;
    if (isUrlRef(req.imageRef)) ({ url, sha256 } = parseImageUrl('image_ref', req.imageRef));
    else {
      // An image pulled before, by id or name: pull its URL again.
      const known = resolveImage('image_ref', req.imageRef, d.images);
      url = known.url;
      sha256 = known.sha256;
    }
    progress({ status: `pulling ${url}` });
    const got = await fetchImageOffThread(url, {
      policy: d.imagePolicy,
      sha256,
      signal: aborted.signal,
      onProgress: (p) => {
        current = p.current;
        total = p.total;
        progress({ status: 'downloading', current: toInt64(p.current), total: toInt64(p.total) });
      },
    });
    current = total = got.sizeBytes;
    progress({ status: `verifying: sha256 ${got.sha256}${sha256 ? ' (matches)' : ''}`, current: toInt64(current), total: toInt64(total) });
    const id = imageIdFor(url);
    await d.dispatcher.execute(step({ ...o, timeoutMs: 10_000, deadline: undefined }, 'register'), 'image', id, {
      type: 'RegisterImage',
      data: { url, name: imageNameFromUrl(url), sha256: got.sha256, sizeBytes: got.sizeBytes, format: got.format, ...(kind ? { kind } : {}) },
    });
    progress({ status: `pulled image ${id} (${got.format}, ${(got.sizeBytes / MiB).toFixed(1)} MiB)`, current: toInt64(current), total: toInt64(total), completed: true });
    call.end();
  } catch (e) {
    if (aborted.signal.aborted) return;
    const message = e instanceof Error ? e.message : String(e);
    progress({ status: 'failed', current: toInt64(current), total: toInt64(total), error: message });
    call.emit('error', toServiceError(e));
  }
};
