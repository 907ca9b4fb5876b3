import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { type DomainError, NotFound, PermissionDenied, Unavailable } from '../../errors';
import { BlockedAddress } from '../address-guard';
import type { FetchPolicy } from '../fetch';
import type { OciRef } from '../../domain/oci-reference';
import { isInsecureRegistry } from './insecure-registries';

const MAX_REDIRECTS = 5;
const REALM_PATH = '/.hv-realm/';
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);

/**
 * What skopeo talks to instead of the registry: a plain-HTTP server on
 * loopback, one per skopeo run, that makes every request to the registry
 * itself, through the fetch policy's guard (every address of every host), and
 * follows redirects itself, each target guarded the same way; skopeo never
 * sees a redirect, so it never connects anywhere but here. Registries redirect
 * blob downloads to storage elsewhere, which a check of the registry's own
 * address does not cover. Why not HTTP_PROXY: Go's proxy rules always go
 * direct to loopback addresses and `localhost`, the very addresses the guard
 * is there to keep image pulls away from.
 *
 * The registry's token service (the `realm` of a Bearer challenge) is reached
 * through here too: the challenge is rewritten to name this server.
 */
export class RegistryFront {
  private server?: http.Server;
  /** Why the registry could not be reached or was refused: the pull's error, clearer than skopeo's view of a 403 or 502. */
  failure?: DomainError;
  private port = 0;
  /** Token services the registry's challenges named. */
  private readonly realms = new Set<string>();
  /** HTTPS; an insecure registry (loopback, or listed by --oci-insecure-registry) without verification, or plain HTTP once it shows it has no TLS, as skopeo's --tls-verify=false does. */
  private scheme: 'https:' | 'http:' = 'https:';
  private readonly insecure: boolean;

  constructor(
    private readonly ref: OciRef,
    private readonly policy: FetchPolicy,
  ) {
    this.insecure = isInsecureRegistry(ref.registry, policy.insecureRegistries);
  }

  /** host:port for skopeo (plain HTTP: --tls-verify=false). */
  get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', resolve);
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => (this.server ? this.server.close(r) : r(undefined)));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end('image pulls only read');
      return;
    }
    const path = req.url ?? '';
    // Only the registry, and token services it named: the front relays nothing else, to no one.
    const target = !path.startsWith('/') ? undefined : path.startsWith(REALM_PATH) ? this.realmUrl(path) : new URL(`${this.scheme}//${this.ref.registry}${path}`);
    if (!target) {
      res.writeHead(400).end('not a request for this registry');
      return;
    }
    const ctl = new AbortController();
    res.on('close', () => ctl.abort());
    let up: IncomingMessage;
    try {
      try {
        up = await this.follow(target, req.method, forwardHeaders(req.headers), ctl.signal);
      } catch (e) {
        if (!(this.insecure && this.scheme === 'https:' && target.host === this.ref.registry && e instanceof HopFailed && isNotTls(e.cause))) throw e;
        this.scheme = 'http:';
        target.protocol = 'http:';
        up = await this.follow(target, req.method, forwardHeaders(req.headers), ctl.signal);
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
      const hop = e instanceof HopFailed ? e : new HopFailed(target, e);
      this.failure ??= this.explain(hop.url, hop.cause);
      res.writeHead(hop.cause instanceof BlockedAddress ? 403 : 502, { 'content-type': 'text/plain' }).end(this.failure.message);
      return;
    }
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP_BY_HOP.has(k) && k !== 'location') headers[k] = v;
    const challenge = up.headers['www-authenticate'];
    if (challenge) headers['www-authenticate'] = this.rewriteRealm(challenge);
    res.writeHead(up.statusCode ?? 502, headers);
    up.pipe(res);
    up.on('error', () => res.destroy());
  }

  /** The answer for `start` after redirects, every hop through the guard; credentials go no further than the host they were meant for. */
  private async follow(start: URL, method: string, headers: Record<string, string>, signal: AbortSignal): Promise<IncomingMessage> {
    let url = start;
    for (let hop = 0; ; hop++) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new HopFailed(url, new RedirectRefused(url, `redirected to a ${url.protocol} URL`));
      const literal = url.hostname.replace(/^\[|\]$/g, '');
      // A literal address is connected to without a lookup: the guard's lookup never sees it.
      const why = net.isIP(literal) ? this.policy.guard.refusal(literal) : undefined;
      if (why) throw new HopFailed(url, new BlockedAddress(literal, literal, why));
      const res = await request(url, method, headers, this.policy, signal, this.insecure && url.host === this.ref.registry).catch((e: unknown) => {
        throw new HopFailed(url, e);
      });
      const location = res.headers.location;
      if (!res.statusCode || res.statusCode < 300 || res.statusCode >= 400 || !location) return res;
      res.resume();
      if (hop >= MAX_REDIRECTS) throw new HopFailed(url, new RedirectRefused(url, `more than ${MAX_REDIRECTS} redirects`));
      const next = new URL(location, url);
      if (next.host !== url.host) delete headers.authorization;
      url = next;
    }
  }

  private explain(url: URL, e: unknown): DomainError {
    const image = `image oci://${this.ref.registry}/${this.ref.repository}`;
    const where = url.host === this.ref.registry ? '' : ` (the registry sent the pull to ${url.origin})`;
    if (e instanceof BlockedAddress) {
      const who = e.host === e.address ? e.address : `${e.host} resolves to ${e.address}, which`;
      return new PermissionDenied(`${image}${where}: ${who} is ${e.why}; images are not fetched from there unless the operator allows it (--image-allow-cidr)`);
    }
    if (e instanceof RedirectRefused) return new PermissionDenied(`${image}: ${e.message}`);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND') return new NotFound(`${image}${where}: host ${url.hostname} is not known (DNS)`);
    return new Unavailable(`${image}${where}: cannot reach the registry (${code ?? (e as Error).message})`);
  }

  private rewriteRealm(challenge: string | string[]): string {
    const one = Array.isArray(challenge) ? challenge[0] : challenge;
    return one.replace(/realm="([^"]*)"/i, (_m, realm: string) => {
      this.realms.add(realm);
      return `realm="http://${this.endpoint}${REALM_PATH}${Buffer.from(realm).toString('base64url')}"`;
    });
  }

  /** The token service's URL from a rewritten realm, with the query skopeo added (scope, service); undefined unless the registry named it. */
  private realmUrl(path: string): URL | undefined {
    const [enc, query] = path.slice(REALM_PATH.length).split('?', 2);
    const realm = Buffer.from(enc, 'base64url').toString('utf8');
    if (!this.realms.has(realm)) return undefined;
    try {
      const u = new URL(realm);
      for (const [k, v] of new URLSearchParams(query ?? '')) u.searchParams.append(k, v);
      return u;
    } catch {
      return undefined;
    }
  }
}

/** A request of the chain that failed, with the URL it was for. */
class HopFailed extends Error {
  constructor(
    readonly url: URL,
    override readonly cause: unknown,
  ) {
    super(`${url.origin}: ${(cause as Error)?.message}`);
  }
}

class RedirectRefused extends Error {
  constructor(
    readonly url: URL,
    why: string,
  ) {
    super(`${why} (${url.origin})`);
  }
}

const forwardHeaders = (h: IncomingHttpHeaders): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
};

/** An HTTPS attempt at a server that speaks plain HTTP. */
const isNotTls = (e: unknown): boolean => /EPROTO|ECONNRESET|ERR_SSL/.test(String((e as NodeJS.ErrnoException).code ?? '')) || /wrong version number/i.test((e as Error).message);

const request = (url: URL, method: string, headers: Record<string, string>, policy: FetchPolicy, signal: AbortSignal, noVerify: boolean): Promise<IncomingMessage> =>
  new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(url, { method, headers, lookup: policy.guard.lookup as never, signal, ...(noVerify ? { rejectUnauthorized: false } : {}) }, resolve);
    req.on('error', reject);
    req.end();
  });

/**
 * Runs `fn` with a front for this registry; a failure the front saw (a refused
 * address, an unreachable registry) is the error, not skopeo's account of it.
 */
export const throughFront = async <T>(ref: OciRef, policy: FetchPolicy, fn: (endpoint: string) => Promise<T>): Promise<T> => {
  const front = await new RegistryFront(ref, policy).start();
  try {
    return await fn(front.endpoint);
  } catch (e) {
    throw front.failure ?? e;
  } finally {
    await front.stop();
  }
};
