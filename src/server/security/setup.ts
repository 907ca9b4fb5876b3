import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Directory } from '../../authz/directory';
import { grants } from '../../authz/identity';
import { fromLoopback, type HttpAccess, OPEN_ACCESS, peerCertificate } from '../../http/http-access';
import type { HttpListen } from '../../http/http-server';
import { defaultAdvertiseIp } from '../../options/table';
import { type ClusterPki, ensureClusterPki } from '../../pki/cluster-pki';
import type { ServerConfig } from '../config';
import type { Metrics } from '../metrics';
import { grpcCredentials, tlsOptions } from './credentials';
import { chooseMode, type SecurityMode } from './mode';

/** hvctl on this host reads it: the server here wants TLS, with `<data-dir>/pki/admin.crt`. */
export const TLS_MARKER = 'serving-tls';

export interface Security {
  readonly mode: SecurityMode;
  readonly pki: ClusterPki;
  /** Every caller is the local administrator (development, --grpc-insecure). */
  readonly trustEveryone: boolean;
  readonly grpc: ServerCredentials;
  readonly httpHost: string;
  readonly http: (directory: Directory) => Pick<HttpListen, 'tls' | 'access'>;
  /** Once gRPC is bound: in network mode, tells hvctl on this host the port to use the admin certificate for. */
  readonly serving: (grpcPort: number) => void;
}

/**
 * The cluster's PKI (made at the first start) and the mode this process
 * serves in, said in the start log with its reason; --grpc-insecure beyond
 * loopback is a warning at every start and hv_insecure_listener 1.
 */
export const setUpSecurity = async (cfg: ServerConfig, metrics: Metrics, log: Logger): Promise<Security> => {
  const httpHost = cfg.httpHost ?? cfg.grpcHost;
  const { mode, why } = chooseMode({ grpcHost: cfg.grpcHost, httpHost, insecure: cfg.grpcInsecure });
  const pki = await ensureClusterPki({
    dataDir: cfg.dataDir,
    caCertFile: cfg.tlsCaCert,
    caKeyFile: cfg.tlsCaKey,
    sans: [cfg.grpcHost, httpHost, defaultAdvertiseIp(), ...cfg.tlsSans],
  });
  for (const [name, pair] of [['server', pki.server], ['admin', pki.admin]] as const)
    if (pair.issued) log.info({ certificate: pair.certFile, why: pair.issued, serial: pair.facts.serial, notAfter: pair.facts.notAfter.toISOString() }, `issued the ${name} certificate`);
  const marker = path.join(pki.dir, TLS_MARKER);
  rmSync(marker, { force: true });
  metrics.insecureListener.set(mode === 'insecure' ? 1 : 0);
  if (mode === 'insecure') log.warn({ mode, grpcHost: cfg.grpcHost, httpHost }, `INSECURE: ${why}`);
  else log.info({ mode, ca: pki.ca.certFile, adminCertificate: pki.admin.certFile }, `${mode} mode: ${why}`);
  const network = mode === 'network';
  return {
    mode,
    pki,
    trustEveryone: !network,
    grpc: grpcCredentials(network ? pki : undefined),
    httpHost,
    serving: (port) => {
      if (network) writeFileSync(marker, `${cfg.grpcHost}:${port}\n`);
    },
    http: (directory) => (network ? { tls: tlsOptions(pki), access: metricsAccess(directory) } : { access: OPEN_ACCESS }),
  };
};

const metricsAccess = (directory: Directory): HttpAccess => ({
  metrics: (req) => {
    if (fromLoopback(req)) return true;
    const cert = peerCertificate(req);
    const who = cert && directory.identify(cert);
    return !!who && !('refused' in who) && grants(who.role, 'viewer');
  },
});
