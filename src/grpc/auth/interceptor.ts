import { type Metadata, type ServerInterceptingCallInterface, type ServerInterceptor, ServerInterceptingCall } from '@grpc/grpc-js';
import { authorize } from '../../authz/authorize';
import type { Owners } from '../../authz/tenant-rules';
import type { Placement } from '../../authz/node-rules';
import { METHOD_ROLES } from '../../authz/method-roles';
import type { Directory } from '../../authz/directory';
import { CONSOLE_USER_HEADER, type Identity, LOCAL_ADMIN, WEB_CONSOLE } from '../../authz/identity';
import { Code } from '../../errors';
import { isUnparseable } from '../guarded-server';
import { attachCaller } from './caller';
import { presentedCertificate } from './connection';

export interface AuthOptions {
  /** True in development mode and with --grpc-insecure: every caller is the local administrator. */
  readonly trustEveryone: boolean;
  readonly directory: Directory;
  /** Who owns the resources a request names (read models), for tenant-bound callers. */
  readonly owners?: Owners;
  /** Which node is which and what is placed where (read models), for node identities. */
  readonly placement?: Placement;
  /** Each refusal, for the metric. */
  readonly onRefused?: (method: string, code: number) => void;
}

/**
 * The caller of a call: the local administrator when everyone is trusted;
 * else the identity of the client certificate the TLS layer verified
 * against the cluster CA, as the directory (the users' read model) knows it
 * now. Undefined, with the reason, when there is none.
 */
const identify = (call: ServerInterceptingCallInterface, md: Metadata, o: AuthOptions): Identity | { refused: string } => {
  if (o.trustEveryone) return LOCAL_ADMIN;
  const cert = presentedCertificate(call, md);
  if (!cert) return { refused: 'a client certificate signed by the cluster CA is required (none was presented, or it is not valid: another CA, expired, or not for client use)' };
  // Asked on every call, so a revocation counts from the moment this replica has read it.
  const who = o.directory.identify(cert);
  if ('refused' in who || who.name !== WEB_CONSOLE) return who;
  // The web console acts for the browser session it serves, with that identity's role; never for itself.
  const user = md.get(CONSOLE_USER_HEADER)[0];
  return typeof user === 'string' && user ? o.directory.named(user) : { refused: 'the web console calls only on behalf of a session' };
};

/**
 * Every call meets this after the guard: who calls (UNAUTHENTICATED without a
 * valid identity), then the one authorization function on the method and the
 * request (PERMISSION_DENIED, or NOT_FOUND for another tenant's resource).
 * The handler finds the identity with `callerOf(call.metadata)`.
 */
export const authInterceptor =
  (o: AuthOptions): ServerInterceptor =>
  (descriptor, call) => {
    const method = descriptor.path;
    let identity: Identity | undefined;
    let refused = false;
    let decided = false;
    const refuse = (code: number, details: string) => {
      refused = true;
      o.onRefused?.(method, code);
      call.sendStatus({ code, details });
    };
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (md, nextMd) => {
            const who = identify(call, md, o);
            if ('refused' in who) {
              // Open methods (health) answer anyone.
              const d = authorize(undefined, method, undefined);
              if (!d.allow) return refuse(Code.UNAUTHENTICATED, `${method}: ${who.refused}`);
            } else {
              identity = who;
              attachCaller(md, who);
            }
            nextMd(md);
          },
          onReceiveMessage: (message, nextMsg) => {
            if (refused) return;
            // The first message decides (a console's later keystrokes carry no new target).
            if (!decided && !isUnparseable(message)) {
              decided = true;
              const d = authorize(identity, method, message, o.owners, METHOD_ROLES, o.placement);
              if (!d.allow) return refuse(d.code, d.message);
              if (d.request !== undefined) return nextMsg(d.request);
            }
            nextMsg(message);
          },
          onReceiveHalfClose: (nextHc) => {
            if (!refused) nextHc();
          },
        }),
    });
  };
