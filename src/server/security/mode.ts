import { isLoopback } from '../../nats/embedded-auth';
import { defaultAdvertiseIp } from '../../options/table';

export type SecurityMode = 'development' | 'network' | 'insecure';

export interface ModeChoice {
  readonly mode: SecurityMode;
  /** Said in the start log. */
  readonly why: string;
}

/**
 * Chosen by where the server listens: loopback only is development
 * (plaintext, every caller the local administrator); anything else is
 * network (TLS 1.3, client certificates from the cluster CA), unless the
 * operator asked for a plaintext lab with --grpc-insecure.
 */
export const chooseMode = (o: { grpcHost: string; httpHost: string; insecure: boolean }): ModeChoice => {
  const beyond = [...new Set([o.grpcHost, o.httpHost])].filter((h) => !isLoopback(h));
  if (beyond.length === 0) return { mode: 'development', why: `gRPC (${o.grpcHost}) and HTTP (${o.httpHost}) listen on loopback only: plaintext, every caller is local:admin` };
  if (o.insecure) return { mode: 'insecure', why: `--grpc-insecure: plaintext on ${beyond.join(', ')}, beyond loopback; every caller who reaches it is local:admin` };
  return { mode: 'network', why: `listening beyond loopback (${beyond.join(', ')}): TLS 1.3 only, every caller needs a client certificate of the cluster CA` };
};

/** The host other machines reach a server listening on `host` at: itself, or this host's address when it listens on every interface. */
export const advertisedHost = (host: string): string => {
  const h = ['', '0.0.0.0', '::'].includes(host) ? defaultAdvertiseIp() : host;
  return h.includes(':') ? `[${h}]` : h;
};
