import { readFileSync } from 'node:fs';
import { type ChannelCredentials, credentials } from '@grpc/grpc-js';

/** Plaintext to a control plane in development mode; TLS with this node's certificate when given one (network mode). */
export const controlPlaneCredentials = (cfg: { tlsCa?: string; tlsCert?: string; tlsKey?: string }): ChannelCredentials => {
  if (!cfg.tlsCa && !cfg.tlsCert && !cfg.tlsKey) return credentials.createInsecure();
  if (!cfg.tlsCa || !cfg.tlsCert || !cfg.tlsKey) throw new Error('--tls-ca, --tls-cert and --tls-key go together: give all three or none');
  return credentials.createSsl(readFileSync(cfg.tlsCa), readFileSync(cfg.tlsKey), readFileSync(cfg.tlsCert));
};
