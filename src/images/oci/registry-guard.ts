import dns from 'node:dns';
import net from 'node:net';
import { InvalidArgument, Unavailable } from '../../errors';
import { refused } from '../address-guard';
import type { FetchPolicy } from '../fetch';
import type { OciRef } from '../../domain/oci-reference';
import type { RemoteManifest } from './skopeo';

/**
 * The image fetch policy for a registry, checked before skopeo runs (every
 * address the name resolves to, as the http fetcher does), so a refused
 * registry is refused at once with its own name. Every connection skopeo's
 * requests lead to, redirects and token services included, is guarded again
 * by the registry front (registry-front.ts) as it is made.
 */
export const checkRegistry = async (ref: OciRef, policy: FetchPolicy): Promise<void> => {
  const url = new URL(`oci://${ref.registry}/${ref.repository}`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (net.isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await dns.promises.lookup(host, { all: true })).map((a) => a.address);
    } catch (e) {
      throw new Unavailable(`image ${url.href}: cannot resolve ${host} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  for (const a of addresses) {
    const why = policy.guard.refusal(a);
    if (why) throw refused(url, a, why);
  }
};

/** Larger images than the operator allows are refused before a blob is fetched. */
export const checkSize = (ref: OciRef, m: RemoteManifest, policy: FetchPolicy): void => {
  const size = m.layers.reduce((a, l) => a + l.size, m.config.size);
  if (size > policy.maxBytes) throw new InvalidArgument(`image oci://${ref.registry}/${ref.repository}: ${size} bytes is more than the ${policy.maxBytes} allowed`);
};
