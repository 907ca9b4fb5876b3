import { Code, type CodeNumber } from '../errors';

/** Allowed, possibly with the request to hand on instead (a tenant filled in), or refused with its code. */
export type Decision = { readonly allow: true; readonly request?: unknown } | { readonly allow: false; readonly code: CodeNumber; readonly message: string };

export const ALLOW: Decision = { allow: true };
export const deny = (code: CodeNumber, message: string): Decision => ({ allow: false, code, message });
/** Refused for what the caller is, not for what it asked (PERMISSION_DENIED). */
export const denied = (message: string): Decision => deny(Code.PERMISSION_DENIED, message);
