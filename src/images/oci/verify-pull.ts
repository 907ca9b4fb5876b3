import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FetchPolicy } from '../fetch';
import type { OciRef } from '../../domain/oci-reference';
import { checkRegistry, checkSize } from './registry-guard';
import { copyToLayout, inspectManifest, type LayerProgress, type RemoteManifest } from './skopeo';

/**
 * What PullImage does for an OCI image on the server, which keeps no state of
 * its own: resolve the manifest, fetch every blob into a scratch layout (each
 * checked against its digest), then throw the copy away. What is recorded is
 * the manifest digest, so every agent later pulls exactly these bytes.
 */
export const verifyPull = async (
  ref: OciRef,
  policy: FetchPolicy,
  opts: { signal?: AbortSignal; onManifest?: (m: RemoteManifest) => void; onLayer?: (p: LayerProgress) => void } = {},
): Promise<RemoteManifest> => {
  await checkRegistry(ref, policy);
  const manifest = await inspectManifest(ref, policy, opts.signal);
  checkSize(ref, manifest, policy);
  opts.onManifest?.(manifest);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hv-oci-pull-'));
  try {
    await copyToLayout(ref, manifest, path.join(dir, 'layout'), 'image', policy, opts);
    return manifest;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

/** Bytes of an image: its layers and config as the manifest lists them. */
export const imageSize = (m: RemoteManifest): number => m.layers.reduce((a, l) => a + l.size, m.config.size);
