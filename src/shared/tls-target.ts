import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { ChannelOptions } from '@grpc/grpc-js';

type IdentityCheck = (host: string, cert: PeerCertificate) => Error | undefined;

/**
 * What the TLS server name becomes when a channel's target is an IP address.
 * Our servers do not choose a certificate by name, so it only has to be a
 * name; ".invalid" never resolves (RFC 2606).
 */
export const IP_TARGET_SERVER_NAME = 'ip-target.invalid';

/** The host of a gRPC target: `10.0.0.1:7000`, `[fd00::1]:7000`, `name:7000`, `dns:///name:7000`. */
export const targetHost = (target: string): string => {
  const authority = target.replace(/^dns:(\/\/[^/]*\/)?/i, '');
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(authority);
  if (bracketed) return bracketed[1];
  const m = /^([^:]*):\d+$/.exec(authority);
  return m ? m[1] : authority;
};

/**
 * How a TLS channel to `target` names the server and checks its certificate.
 * grpc-js hands the target's host to TLS as the server name, and Node warns
 * (DEP0123) and will ignore an IP there (RFC 6066 allows only host names).
 * For an IP target the server name is a placeholder and the certificate is
 * checked against the IP itself, so the check is the one the address asks for.
 */
export const tlsTarget = (target: string, check: IdentityCheck = checkServerIdentity): { channelOptions: ChannelOptions; checkServerIdentity: IdentityCheck } => {
  const host = targetHost(target);
  if (!isIP(host)) return { channelOptions: {}, checkServerIdentity: check };
  return { channelOptions: { 'grpc.ssl_target_name_override': IP_TARGET_SERVER_NAME }, checkServerIdentity: (_name, cert) => check(host, cert) };
};
