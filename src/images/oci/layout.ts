import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { FailedPrecondition } from '../../errors';

/** What an image's config says a container runs by default (OCI image-spec config.md, `config`). */
export interface ImageRuntimeConfig {
  readonly entrypoint: string[];
  readonly cmd: string[];
  readonly env: string[];
  readonly workingDir: string;
  readonly user: string;
}

const blob = (layoutDir: string, digest: string) => path.join(layoutDir, 'blobs', ...digest.split(':'));

/** Reads the tagged image's config out of an OCI layout. */
export const readImageConfig = async (layoutDir: string, tag: string): Promise<ImageRuntimeConfig> => {
  const index = JSON.parse(await readFile(path.join(layoutDir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!entry) throw new FailedPrecondition(`the OCI layout has no image tagged ${tag}`);
  const manifest = JSON.parse(await readFile(blob(layoutDir, entry.digest), 'utf8')) as { config: { digest: string } };
  const config = JSON.parse(await readFile(blob(layoutDir, manifest.config.digest), 'utf8')) as {
    config?: { Entrypoint?: string[] | null; Cmd?: string[] | null; Env?: string[] | null; WorkingDir?: string; User?: string };
  };
  const c = config.config ?? {};
  return { entrypoint: c.Entrypoint ?? [], cmd: c.Cmd ?? [], env: c.Env ?? [], workingDir: c.WorkingDir ?? '', user: c.User ?? '' };
};
