import type { Metadata } from '@grpc/grpc-js';
import type { Identity } from '../../authz/identity';

/**
 * The authenticated caller of a call, attached by the auth interceptor to
 * the call's metadata object (not to a header, which a client could send).
 */
const callers = new WeakMap<Metadata, Identity>();

export const attachCaller = (md: Metadata, identity: Identity): void => {
  callers.set(md, identity);
};

export const callerOf = (md: Metadata): Identity | undefined => callers.get(md);
