import type http from 'node:http';
import { TLSSocket } from 'node:tls';
import type { PresentedCertificate } from '../authz/directory';
import { normalSerial } from '../pki/certificate';

/** Who may reach what on the HTTP port beyond the open probes. */
export interface HttpAccess {
  /** /metrics: a viewer's certificate, or a request from loopback. */
  metrics(req: http.IncomingMessage): boolean;
}

export const OPEN_ACCESS: HttpAccess = { metrics: () => true };

/** The client certificate the TLS layer verified against the cluster CA, if the request came with one. */
export const peerCertificate = (req: http.IncomingMessage): PresentedCertificate | undefined => {
  const s = req.socket;
  if (!(s instanceof TLSSocket) || !s.authorized) return undefined;
  const c = s.getPeerCertificate();
  if (!c?.raw) return undefined;
  return { commonName: typeof c.subject?.CN === 'string' ? c.subject.CN : '', serial: normalSerial(c.serialNumber ?? '') };
};

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;
export const fromLoopback = (req: http.IncomingMessage): boolean => LOOPBACK.test(req.socket.remoteAddress ?? '');
