import { readFileSync } from 'node:fs';
import { type ChannelCredentials, type ChannelOptions, credentials } from '@grpc/grpc-js';
import { tlsTarget } from '../shared/tls-target';

/** Plaintext to a control plane in development mode; TLS with this node's certificate when given one (network mode). */
export const controlPlaneChannel = (server: string, cfg: { tlsCa?: string; tlsCert?: string; tlsKey?: string }): { credentials: ChannelCredentials; channelOptions: ChannelOptions } => {
  if (!cfg.tlsCa && !cfg.tlsCert && !cfg.tlsKey) return { credentials: credentials.createInsecure(), channelOptions: {} };
  if (!cfg.tlsCa || !cfg.tlsCert || !cfg.tlsKey) throw new Error('--tls-ca, --tls-cert and --tls-key go together: give all three or none');
  const { channelOptions, checkServerIdentity } = tlsTarget(server);
  return { credentials: credentials.createSsl(readFileSync(cfg.tlsCa), readFileSync(cfg.tlsKey), readFileSync(cfg.tlsCert), { checkServerIdentity }), channelOptions };
};
