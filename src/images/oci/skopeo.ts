import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { DomainError, FailedPrecondition, NotFound, Unavailable } from '../../errors';
import { type OciRef, skopeoName } from '../../domain/oci-reference';
import type { FetchPolicy } from '../fetch';
import { throughFront } from './registry-front';
import { lastMessage, runTool } from './run-tool';

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: { architecture?: string; os?: string };
}

export interface RemoteManifest {
  /** `sha256:<hex>` of the manifest's bytes as the registry serves them: what a pull by digest asks for. */
  readonly digest: string;
  readonly config: Descriptor;
  readonly layers: Descriptor[];
}

export interface LayerProgress {
  readonly index: number;
  readonly count: number;
  readonly layer: Descriptor;
  /** Bytes of the layers stored so far, of the total. */
  readonly current: number;
  readonly total: number;
}

const SKOPEO = 'skopeo';
const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];

/** The image as skopeo names it when it reaches the registry through a front (plain HTTP on loopback). */
const viaFront = (r: OciRef, endpoint: string) => skopeoName({ ...r, registry: endpoint });
const shown = (r: OciRef) => skopeoName(r).replace('docker://', 'oci://');

/** A skopeo failure as a DomainError a user can act on. */
export const skopeoError = (what: string, stderr: string): DomainError => {
  const m = lastMessage(stderr) || 'skopeo failed';
  // The digest check first: a digest's hex can hold "404".
  if (/digest did not match|digest mismatch|manifest digest .* does not match/i.test(m)) return new FailedPrecondition(`${what}: digest mismatch: ${m}`);
  if (/manifest unknown|name unknown|not found|\b404\b/i.test(m)) return new NotFound(`${what}: the registry has no such image (${m})`);
  if (/unauthorized|denied|authentication required/i.test(m)) return new FailedPrecondition(`${what}: the registry refused access (${m})`);
  if (/connection refused|no such host|i\/o timeout|dial tcp|server gave HTTP response to HTTPS client|connection reset|EOF/i.test(m))
    return new Unavailable(`${what}: cannot reach the registry (${m})`);
  return new FailedPrecondition(`${what}: ${m}`);
};

/**
 * The image's manifest for linux/amd64: a multi-platform index is followed to
 * that platform's manifest, so the digest is of what is actually unpacked.
 * skopeo reaches the registry through a front that guards every connection
 * (registry-front.ts).
 */
export const inspectManifest = (r: OciRef, policy: FetchPolicy, signal?: AbortSignal): Promise<RemoteManifest> =>
  throughFront(r, policy, (endpoint) => inspectVia(r, endpoint, signal));

const inspectVia = async (r: OciRef, endpoint: string, signal?: AbortSignal): Promise<RemoteManifest> => {
  const raw = async (ref: OciRef) => {
    const res = await runTool(SKOPEO, ['inspect', '--raw', '--tls-verify=false', viaFront(ref, endpoint)], { signal, pkg: 'skopeo', dieWithParent: true });
    if (res.code !== 0) throw skopeoError(`image ${shown(ref)}`, res.stderr);
    return res.stdout;
  };
  let ref = r;
  let body = await raw(ref);
  let doc = JSON.parse(body) as { mediaType?: string; manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
  if (INDEX_TYPES.includes(doc.mediaType ?? '') || doc.manifests) {
    const m = doc.manifests?.find((d) => (d.platform?.os ?? 'linux') === 'linux' && (d.platform?.architecture ?? 'amd64') === 'amd64');
    if (!m) throw new FailedPrecondition(`image ${skopeoName(r)}: no linux/amd64 manifest in its index`);
    ref = { ...r, digest: m.digest };
    body = await raw(ref);
    doc = JSON.parse(body);
  }
  if (!doc.config || !doc.layers) throw new FailedPrecondition(`image ${skopeoName(r)}: the registry answered something that is not an image manifest`);
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  if (ref.digest && ref.digest !== digest) throw new FailedPrecondition(`image ${skopeoName(ref)}: digest mismatch: the registry's manifest has ${digest}`);
  return { digest, config: doc.config, layers: doc.layers };
};

/**
 * Copies the image into an OCI layout under `tag`, through a front that
 * guards every connection (registry-front.ts). skopeo checks every blob
 * against its digest as it writes it (and the manifest against a pinned
 * digest); a blob file appears in the layout only once it is complete and
 * verified, which is what per-layer progress watches for.
 */
export const copyToLayout = async (
  r: OciRef,
  manifest: RemoteManifest,
  layoutDir: string,
  tag: string,
  policy: FetchPolicy,
  opts: { signal?: AbortSignal; onLayer?: (p: LayerProgress) => void } = {},
): Promise<void> => {
  const source = { ...r, digest: manifest.digest };
  const total = manifest.layers.reduce((a, l) => a + l.size, 0);
  const seen = new Set<string>();
  let current = 0;
  const poll = async () => {
    const have = new Set(await readdir(path.join(layoutDir, 'blobs', 'sha256')).catch(() => [] as string[]));
    manifest.layers.forEach((layer, index) => {
      if (seen.has(layer.digest) || !have.has(layer.digest.slice('sha256:'.length))) return;
      seen.add(layer.digest);
      current += layer.size;
      opts.onLayer?.({ index, count: manifest.layers.length, layer, current, total });
    });
  };
  const timer = setInterval(() => void poll(), 50);
  try {
    await throughFront(r, policy, async (endpoint) => {
      const res = await runTool(SKOPEO, ['copy', '--quiet', '--src-tls-verify=false', viaFront(source, endpoint), `oci:${layoutDir}:${tag}`], { signal: opts.signal, pkg: 'skopeo', dieWithParent: true });
      if (res.code !== 0) throw skopeoError(`image ${shown(r)}`, res.stderr);
    });
  } finally {
    clearInterval(timer);
  }
  await poll();
};
