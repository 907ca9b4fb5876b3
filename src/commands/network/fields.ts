import { clip } from '../../domain/validate';
import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound } from '../../errors';

// Field checks shared by the networking aggregates; each names the field it rejects.

/** Ids are chosen by the caller (uuids) and name streams and subjects: no dots, spaces or wildcards. */
const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

export const requireToken = (field: string, v: string): void => {
  if (!v) throw new InvalidArgument(`${field}: is required`);
  if (!TOKEN.test(v)) throw new InvalidArgument(`${field}: "${clip(v)}" is not a valid id (letters, digits, '-' and '_', at most 128)`);
};

export const optionalToken = (field: string, v: string): void => {
  if (v) requireToken(field, v);
};

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Names, descriptions and tenant ids are free text, bounded and printable. */
export const optionalText = (field: string, v: string, max = 255): void => {
  if (v.length > max) throw new InvalidArgument(`${field}: is ${v.length} characters long, at most ${max}`);
  if (CONTROL.test(v)) throw new InvalidArgument(`${field}: contains control characters`);
};

/** Every networking resource goes absent → active → deleted; ids are never reused. */
export type Lifecycle = 'absent' | 'active' | 'deleted';

export const requireActive = (kind: string, s: { id: string; status: Lifecycle }): void => {
  if (s.status !== 'active') throw new NotFound(`${kind} ${s.id} not found`);
};

/**
 * Deleting twice is the same outcome as deleting once (a redelivered delete
 * adds nothing); deleting what never existed is NOT_FOUND.
 */
export const deletable = (kind: string, s: { id: string; status: Lifecycle }): boolean => {
  if (s.status === 'absent') throw new NotFound(`${kind} ${s.id} not found`);
  return s.status === 'active';
};

/** A create on an id that exists: the same request again adds nothing, another one is refused. */
export const createAgain = (kind: string, s: { id: string; status: Lifecycle }, same: boolean): [] => {
  if (s.status === 'active' && same) return [];
  if (s.status === 'deleted') throw new FailedPrecondition(`${kind} id ${s.id} belonged to a deleted ${kind}; ids are not reused`);
  throw new AlreadyExists(`${kind} ${s.id} already exists`);
};

/** What a command needs to know about a network it does not own, read by the caller from the network's projection. */
export interface NetworkFacts {
  readonly id: string;
  readonly exists: boolean;
  readonly external: boolean;
}

export const requireExternalNetwork = (field: string, n: NetworkFacts): void => {
  requireToken(field, n.id);
  if (!n.exists) throw new NotFound(`${field}: network ${n.id} not found`);
  if (!n.external) throw new FailedPrecondition(`${field}: network ${n.id} is not external`);
};

/** Plain JSON equality for command data against recorded event data (both are plain JSON). */
export const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** A few ids for a message, not a thousand. */
export const list = (ids: readonly string[], n = 3): string => (ids.length > n ? `${ids.slice(0, n).join(', ')}, …` : ids.join(', '));
