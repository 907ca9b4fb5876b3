import { readFileSync } from 'node:fs';
import { type ChannelCredentials, credentials } from '@grpc/grpc-js';
import { defaultAdvertiseIp } from '../../options/table';
import type { ClusterPki } from '../../pki/cluster-pki';
import type { Security } from './setup';

/** The web console's client of this server's gRPC in network mode: TLS with its own certificate. */
export const consoleCredentials = (pki: ClusterPki): ChannelCredentials =>
  credentials.createSsl(Buffer.from(pki.ca.certPem), readFileSync(pki.console.keyFile), Buffer.from(pki.console.certPem));

/** Where a browser reaches the console: the HTTP host, or this host's address when it listens on every interface (both in the certificate). */
export const consoleUrl = (s: Security, port: number): string => {
  const host = ['', '0.0.0.0', '::'].includes(s.httpHost) ? (s.mode === 'development' ? '127.0.0.1' : defaultAdvertiseIp()) : s.httpHost;
  const shown = host.includes(':') ? `[${host}]` : host;
  return `${s.mode === 'network' ? 'https' : 'http'}://${shown}:${port}`;
};
