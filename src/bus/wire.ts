import { Code, type CodeNumber, DomainError } from '../errors';
import type { CommandResult } from '../commands/command';

/** The reply a command handler sends back over NATS. */
export type CommandReply =
  | { readonly ok: true; readonly position: number; readonly events: number }
  | { readonly ok: false; readonly code: CodeNumber; readonly message: string };

export const okReply = (r: CommandResult): CommandReply => ({ ok: true, position: r.position, events: r.events });

export const errorReply = (e: unknown): CommandReply =>
  e instanceof DomainError
    ? { ok: false, code: e.code, message: e.message }
    : { ok: false, code: Code.INTERNAL, message: 'internal error while handling the command' };

export const encode = (v: unknown): Uint8Array => Buffer.from(JSON.stringify(v));
export const decode = <T>(b: Uint8Array): T =>
  JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')) as T;
