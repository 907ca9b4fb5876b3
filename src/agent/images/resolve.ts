import type { NatsConnection } from 'nats';
import { decode, encode } from '../../bus/wire';
import type { ImageSource, InstanceSpecData, ResolvedImages } from '../../commands/instance/spec';
import { isUrlRef, parseImageUrl } from '../../domain/image-ref';
import { imageUrlOf, isOciRef, parseOciRef } from '../../domain/oci-reference';
import { DomainError, Unavailable } from '../../errors';
import { IMAGE_RESOLVE_SUBJECT, type ResolveReply } from '../protocol';

/**
 * An image reference of a create made on this host (AgentService) as the
 * control plane would resolve it: a URL or an OCI reference stands for itself;
 * a name or an id is looked up with the control plane.
 */
export const resolveImageRef = async (nc: NatsConnection, field: string, ref: string): Promise<ImageSource | undefined> => {
  if (!ref) return undefined;
  if (isOciRef(ref)) {
    const r = parseOciRef(field, ref);
    return { ref, url: imageUrlOf(r), format: 'oci', ...(r.digest ? { sha256: r.digest.slice('sha256:'.length) } : {}) };
  }
  if (isUrlRef(ref)) {
    const u = parseImageUrl(field, ref);
    return { ref, url: u.url, ...(u.sha256 ? { sha256: u.sha256 } : {}) };
  }
  let reply: ResolveReply;
  try {
    reply = decode<ResolveReply>((await nc.request(IMAGE_RESOLVE_SUBJECT, encode({ ref }), { timeout: 5_000 })).data);
  } catch {
    throw new Unavailable(`${field}: cannot look "${ref}" up: the control plane does not answer; give an http(s) URL`);
  }
  if (!reply.ok) throw new DomainError(reply.code as DomainError['code'], reply.message.replace(/^image:/, `${field}:`));
  return reply.source;
};

/** The spec's image, kernel and initrd, resolved. */
export const resolveImages = async (nc: NatsConnection, spec: Pick<InstanceSpecData, 'image' | 'kernel' | 'initrd'>): Promise<ResolvedImages> => {
  const [image, kernel, initrd] = await Promise.all([resolveImageRef(nc, 'spec.image', spec.image), resolveImageRef(nc, 'spec.kernel', spec.kernel), resolveImageRef(nc, 'spec.initrd', spec.initrd)]);
  return { ...(image ? { image } : {}), ...(kernel ? { kernel } : {}), ...(initrd ? { initrd } : {}) };
};
