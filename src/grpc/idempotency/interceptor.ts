import { type Metadata, type ServerInterceptingCallInterface, type ServerInterceptor, ServerInterceptingCall, status } from '@grpc/grpc-js';
import type { RequestIndex } from '../../projections/request-index';
import { isUnparseable } from '../guarded-server';
import { EMPTY_ANSWER, methodOf, stampOf } from './request-scope';

const firstString = (md: Metadata | undefined, key: string): string | undefined => {
  const v = md?.get(key)[0];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
};

/**
 * Before a write runs, looks its x-request-id up in the log's request index:
 * - used in this scope for another request → INVALID_ARGUMENT, nothing runs;
 * - used for this very request → a retry: it runs again (every step is
 *   idempotent), and where it now finds what it removed gone (NOT_FOUND) it is
 *   answered as the first call was, OK with the empty answer.
 */
export const idempotencyInterceptor =
  (index: RequestIndex): ServerInterceptor =>
  (descriptor, call: ServerInterceptingCallInterface) => {
    const method = methodOf(descriptor.path);
    let md: Metadata | undefined;
    let retry = false;
    let refused = false;
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (m, nextMd) => {
            md = m;
            nextMd(m);
          },
          onReceiveMessage: (message, nextMsg) => {
            if (isUnparseable(message)) return nextMsg(message); // the guard refuses it
            const id = firstString(md, 'x-request-id');
            const stamp = stampOf(method, id, message);
            const known = stamp && index.fingerprint(stamp.scope);
            if (stamp && known && known !== stamp.fingerprint) {
              refused = true;
              call.sendStatus({
                code: status.INVALID_ARGUMENT,
                details: `x-request-id "${id}" was used for another request to ${method}; a retry must repeat the request exactly, a new request needs a new id`,
              });
              return;
            }
            retry = !!known;
            nextMsg(message);
          },
          onReceiveHalfClose: (nextHc) => {
            if (!refused) nextHc();
          },
        }),
      sendStatus: (st, next) => {
        if (retry && st.code === status.NOT_FOUND && EMPTY_ANSWER.has(method)) {
          call.sendMessage({}, () => next({ code: status.OK, details: 'OK', metadata: st.metadata }));
          return;
        }
        next(st);
      },
    });
  };
