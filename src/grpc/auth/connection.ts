import { type Metadata, type ServerInterceptingCallInterface, type ServerInterceptor, ServerInterceptingCall } from '@grpc/grpc-js';
import type { PresentedCertificate } from '../../authz/directory';
import { normalSerial } from '../../pki/certificate';

/**
 * The client certificate a call's connection presented, read once per
 * connection instead of once per call.
 *
 * grpc-js 1.14 gives interceptors no handle on the connection, and its
 * getAuthContext() runs Node's getPeerCertificate() on every call: ~30 µs
 * here (three fingerprints, the subject, the key, all as new objects), a
 * third of what network mode added to a small list (BENCHMARKS.md). What a
 * TLS 1.3 connection presented cannot change while it is open (no
 * renegotiation; Node asks for no post-handshake authentication), so it is
 * kept per HTTP/2 session, which is one connection and goes with it.
 *
 * Only the certificate is kept: who it belongs to, and whether it was
 * revoked, is still asked of the directory on every call.
 */

/** The innermost call, which only the first interceptor sees, holds its HTTP/2 stream (grpc-js' BaseServerInterceptingCall). */
interface BaseCallShape {
  readonly stream?: { readonly session?: object };
}

const sessions = new WeakMap<Metadata, object>();
/** null: the connection presented no valid certificate (none, another CA's, expired, not for clients). */
const presented = new WeakMap<object, PresentedCertificate | null>();

let reads = 0;
/** How often a peer certificate was read from a connection (a test checks it is once per connection). */
export const peerCertificateReads = (): number => reads;

/**
 * Must be the server's first interceptor: notes the call's HTTP/2 session
 * beside its metadata. If grpc-js stops exposing it, nothing is noted and
 * every call reads its certificate as before (slower, never wrong).
 */
export const connectionInterceptor: ServerInterceptor = (_descriptor, call) => {
  const session = (call as unknown as BaseCallShape).stream?.session;
  return new ServerInterceptingCall(call, {
    start: (next) =>
      next({
        onReceiveMetadata: (md, nextMd) => {
          if (typeof session === 'object' && session !== null) sessions.set(md, session);
          nextMd(md);
        },
      }),
  });
};

const read = (call: ServerInterceptingCallInterface): PresentedCertificate | null => {
  reads++;
  const cert = call.getAuthContext().sslPeerCertificate;
  if (!cert) return null;
  const cn = cert.subject?.CN;
  return { commonName: typeof cn === 'string' ? cn : '', serial: normalSerial(cert.serialNumber ?? '') };
};

/** The certificate the call's connection presented and the TLS layer verified against the cluster CA, if any. */
export const presentedCertificate = (call: ServerInterceptingCallInterface, md: Metadata): PresentedCertificate | undefined => {
  const session = sessions.get(md);
  if (!session) return read(call) ?? undefined;
  let c = presented.get(session);
  if (c === undefined) presented.set(session, (c = read(call)));
  return c ?? undefined;
};
