import { readFileSync } from 'node:fs';
import { type ServerInterceptor, ServerCredentials, ServerInterceptingCall, status } from '@grpc/grpc-js';

/** The only identity AgentService answers: the control plane's client certificate. */
export const CONTROL_PLANE = 'system:control-plane';

/**
 * AgentService's credentials: TLS with this node's certificate, and a client
 * certificate of the cluster CA required (without one the handshake fails).
 * None without a node certificate: development mode, on loopback.
 */
export const agentServiceCredentials = (cfg: { tlsCa?: string; tlsCert?: string; tlsKey?: string }): ServerCredentials =>
  cfg.tlsCa && cfg.tlsCert && cfg.tlsKey
    ? ServerCredentials.createSsl(readFileSync(cfg.tlsCa), [{ private_key: readFileSync(cfg.tlsKey), cert_chain: readFileSync(cfg.tlsCert) }], true)
    : ServerCredentials.createInsecure();

/**
 * Starting QEMU and runc is the control plane's to ask: another node's
 * certificate or a user's is PERMISSION_DENIED, naming who it was.
 */
export const controlPlaneOnly: ServerInterceptor = (descriptor, call) =>
  new ServerInterceptingCall(call, {
    start: (next) =>
      next({
        onReceiveMetadata: (md, nextMd) => {
          const cn = call.getAuthContext().sslPeerCertificate?.subject?.CN;
          if (cn === CONTROL_PLANE) return nextMd(md);
          call.sendStatus({ code: status.PERMISSION_DENIED, details: `${descriptor.path}: AgentService answers only ${CONTROL_PLANE}; ${typeof cn === 'string' && cn ? cn : 'this caller'} is not` });
        },
      }),
  });
