import { InvalidArgument } from '../errors';

export interface ImageUrl {
  /** The URL without its `#sha256=` fragment. */
  readonly url: string;
  /** Lower-case hex, when the reference pinned one. */
  readonly sha256?: string;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** Whether a reference is a URL (as opposed to an image id or name). */
export const isUrlRef = (ref: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(ref);

/** `http(s)://host/path[#sha256=<hex>]`: the URL to fetch and the checksum to verify. */
export const parseImageUrl = (field: string, ref: string): ImageUrl => {
  let u: URL;
  try {
    u = new URL(ref);
  } catch {
    throw new InvalidArgument(`${field}: "${clip(ref)}" is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidArgument(`${field}: only http and https URLs can be pulled, not ${u.protocol}`);
  if (u.username || u.password) throw new InvalidArgument(`${field}: credentials in the URL are not accepted`);
  let sha256: string | undefined;
  if (u.hash) {
    const m = /^#sha256[=:]([0-9a-fA-F]+)$/.exec(u.hash);
    if (!m || !SHA256.test(m[1].toLowerCase()))
      throw new InvalidArgument(`${field}: the fragment must be #sha256=<64 hex digits>, got "${clip(u.hash)}"`);
    sha256 = m[1].toLowerCase();
    u.hash = '';
  }
  if (ref.length > 2048) throw new InvalidArgument(`${field}: URL longer than 2048 characters`);
  return { url: u.toString(), sha256 };
};

/** The last path segment: what ListImages shows as the image's name. */
export const imageNameFromUrl = (url: string): string => {
  const p = new URL(url).pathname.split('/').filter(Boolean);
  return decodeURIComponent(p[p.length - 1] ?? new URL(url).hostname);
};

const clip = (s: string, n = 80) => (s.length > n ? `${s.slice(0, n)}…` : s);
