import { InvalidArgument } from '../errors';

/** An image in an OCI distribution registry, as `oci://<registry>/<repository>[:<tag>][@sha256:<hex>]` names it. */
export interface OciRef {
  /** host[:port] */
  readonly registry: string;
  readonly repository: string;
  /** 'latest' when neither tag nor digest was given. */
  readonly tag?: string;
  /** `sha256:<hex>` of the manifest, when the reference pins one. */
  readonly digest?: string;
}

const PREFIX = 'oci://';
// The distribution spec's grammar: lower-case path components, separators inside them.
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

export const isOciRef = (ref: string): boolean => ref.startsWith(PREFIX);

/** Parses a reference; every refusal names the field and the part that is wrong. */
export const parseOciRef = (field: string, ref: string): OciRef => {
  if (!isOciRef(ref)) throw new InvalidArgument(`${field}: "${clip(ref)}" is not an oci:// reference (oci://<registry>/<repository>:<tag>)`);
  if (ref.length > 1024) throw new InvalidArgument(`${field}: reference longer than 1024 characters`);
  let rest = ref.slice(PREFIX.length);
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new InvalidArgument(`${field}: digest "${clip(digest)}" must be sha256:<64 lower-case hex digits>`);
  }
  const slash = rest.indexOf('/');
  if (slash <= 0) throw new InvalidArgument(`${field}: "${clip(ref)}" names no registry; write oci://<registry>/<repository>:<tag>`);
  const registry = rest.slice(0, slash);
  if (!HOST.test(registry)) throw new InvalidArgument(`${field}: registry "${clip(registry)}" is not a host name or host:port`);
  let path = rest.slice(slash + 1);
  let tag: string | undefined;
  const colon = path.lastIndexOf(':');
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG.test(tag)) throw new InvalidArgument(`${field}: tag "${clip(tag)}" must be 1-128 letters, digits, '_', '.' or '-'`);
  }
  if (!path) throw new InvalidArgument(`${field}: "${clip(ref)}" names no repository`);
  for (const c of path.split('/'))
    if (!COMPONENT.test(c)) throw new InvalidArgument(`${field}: repository "${clip(path)}": "${clip(c)}" must be lower-case letters and digits, with '.', '_' or '-' between them`);
  if (!tag && !digest) tag = 'latest';
  return { registry, repository: path, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
};

/** The reference written out again: how ListImages names the image and what its id derives from. */
export const formatOciRef = (r: OciRef): string => `${PREFIX}${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;

/** The same image pinned to one manifest. */
export const pinned = (r: OciRef, digest: string): OciRef => ({ ...r, digest });

/** skopeo's name for it (its `docker://` transport speaks the distribution API); a digest wins over a tag. */
export const skopeoName = (r: OciRef): string => `docker://${r.registry}/${r.repository}${r.digest ? `@${r.digest}` : `:${r.tag}`}`;

/** What ListImages shows as the name: repository and tag (or digest). */
export const ociImageName = (r: OciRef): string => `${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest && !r.tag ? `@${r.digest.slice(0, 19)}` : ''}`;

const clip = (s: string, n = 80) => (s.length > n ? `${s.slice(0, n)}…` : s);

/** The reference an image is registered under: with its tag (the digest moves with the tag), or with its digest when it has no tag. */
export const imageUrlOf = (r: OciRef): string => (r.tag ? formatOciRef({ registry: r.registry, repository: r.repository, tag: r.tag }) : formatOciRef(r));
