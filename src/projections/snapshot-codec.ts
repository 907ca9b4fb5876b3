/**
 * JSON for read-model snapshots that keeps what aggregate states hold besides
 * plain data: Date, Map, Set, SortedMap, BigInt and undefined. Anything else that is not
 * a plain object (a class instance) is refused, so a state that cannot be
 * restored exactly is never snapshotted: its model replays the log instead.
 */
import { SortedMap, type SortedKey } from '../domain/ipam/sorted-map';

const TAG = '$hv';

export class NotSnapshottable extends Error {}

/**
 * Where a section's tagged values are, so its decode walks only there: 0 holds none, 1 is a
 * value to decode whole (a tagged value, or one too varied to describe), 'd' a place whose
 * Dates are written as their milliseconds (any other value there is decoded whole; no plain
 * number is ever written there), `f` the fields of an object that lead to one, `e` what its
 * array's elements lead to (both may be given where the same place holds objects in some
 * states and arrays in others). A field not named holds no tag.
 */
export type TagPaths = 0 | 1 | 'd' | { readonly f?: Readonly<Record<string, TagPaths>>; readonly e?: TagPaths };

/** What one place of a document was seen to hold, by a first walk before it is encoded. */
interface Place {
  /** A tagged value other than a Date, or more fields than are worth describing: decoded whole. */
  whole?: true;
  date?: true;
  number?: true;
  fields?: Map<string, Place>;
  items?: Place;
}

/**
 * More distinct fields at one place than this (a record keyed by ids or free-form labels) and
 * it is decoded whole: the description would be as large as what it spares.
 */
const MAX_FIELDS = 64;

const isPlain = (v: object): boolean => {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/** Records where Dates, numbers and other tagged values are; allocates only the places. */
const observe = (v: unknown, at: Place): void => {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    if (Number.isFinite(v)) at.number = true;
    else at.whole = true;
  } else if (v instanceof Date) at.date = true;
  else if (Array.isArray(v)) {
    if (at.whole) return;
    const items = (at.items ??= {});
    for (const x of v) observe(x, items);
  } else if (typeof v === 'object' && isPlain(v) && !(TAG in v)) {
    for (const k in v) {
      if (at.whole) return;
      observe((v as Record<string, unknown>)[k], fieldOf(at, k));
    }
  } else at.whole = true; // undefined, bigint, Map, Set, SortedMap, an escaped object (a class instance is refused by the encoder)
};

const fieldOf = (at: Place, k: string): Place => {
  const fields = (at.fields ??= new Map());
  let f = fields.get(k);
  if (f) return f;
  if (fields.size === MAX_FIELDS) {
    at.whole = true;
    at.fields = undefined;
    return {};
  }
  fields.set(k, (f = {}));
  return f;
};

/** A place whose Dates are written as numbers: it holds Dates and never a plain number. */
const datesAsNumbers = (at: Place | undefined): boolean => !!at?.date && !at.number;
/** Where encoding goes on describing: nowhere inside a place decoded whole. */
const inner = (at: Place | undefined): Place | undefined => (at && !at.whole && !datesAsNumbers(at) ? at : undefined);

const encodeValue = (v: unknown, path: string, at?: Place): unknown => {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : { [TAG]: 'num', v: String(v) };
  if (v === undefined) return { [TAG]: 'undef' };
  if (typeof v === 'bigint') return { [TAG]: 'big', v: v.toString() };
  if (v instanceof Date) return datesAsNumbers(at) ? v.getTime() : { [TAG]: 'date', v: v.getTime() };
  if (Array.isArray(v)) {
    const items = inner(at)?.items;
    return v.map((x, i) => encodeValue(x, `${path}[${i}]`, items));
  }
  if (v instanceof Map) return { [TAG]: 'map', v: [...v].map(([k, x], i) => [encodeValue(k, `${path}<key ${i}>`), encodeValue(x, `${path}.get(${i})`)]) };
  if (v instanceof Set) return { [TAG]: 'set', v: [...v].map((x, i) => encodeValue(x, `${path}{${i}}`)) };
  // A SortedMap is its entries (keys ordered by <, no comparator to keep): IPAM's allocations, a network's ports.
  if (v instanceof SortedMap) return { [TAG]: 'sorted', v: [...v.entries()].map(([k, x], i) => [encodeValue(k, `${path}<key ${i}>`), encodeValue(x, `${path}.get(${i})`)]) };
  if (typeof v === 'object') {
    if (!isPlain(v)) throw new NotSnapshottable(`${path} is a ${Object.getPrototypeOf(v)?.constructor?.name ?? 'class'} instance`);
    const fields = inner(at)?.fields;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = encodeValue(x, `${path}.${k}`, fields?.get(k));
    // A plain object that happens to have our tag key is escaped.
    return TAG in out ? { [TAG]: 'obj', v: out } : out;
  }
  throw new NotSnapshottable(`${path} is a ${typeof v}`);
};

const pathsOf = (at: Place): TagPaths => {
  if (datesAsNumbers(at)) return 'd';
  if (at.whole || at.date) return 1;
  let f: Record<string, TagPaths> | undefined;
  for (const [k, p] of at.fields ?? []) {
    const sub = pathsOf(p);
    if (sub !== 0) (f ??= {})[k] = sub;
  }
  const e = at.items ? pathsOf(at.items) : 0;
  if (!f && e === 0) return 0;
  return { ...(f && { f }), ...(e !== 0 && { e }) };
};

/**
 * Decodes in place: the JSON just parsed belongs to the decoder, so plain
 * objects and arrays are kept and only tagged values are replaced. A copy of
 * every object of a snapshot of 10,000,000 events was most of its decode.
 */
const decodeValue = (v: unknown): unknown => {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x !== null && typeof x === 'object') v[i] = decodeValue(x);
    }
    return v;
  }
  const o = v as Record<string, unknown>;
  switch (o[TAG]) {
    case undefined:
      return decodeFields(o);
    case 'undef':
      return undefined;
    case 'num':
      return Number(o.v);
    case 'big':
      return BigInt(o.v as string);
    case 'date':
      return new Date(o.v as number);
    case 'map':
      return new Map((o.v as [unknown, unknown][]).map(([k, x]) => [decodeValue(k), decodeValue(x)]));
    case 'set':
      return new Set((o.v as unknown[]).map(decodeValue));
    case 'sorted':
      return SortedMap.of((o.v as [unknown, unknown][]).map(([k, x]) => [decodeValue(k) as SortedKey, decodeValue(x)] as const));
    case 'obj':
      return decodeFields(o.v as Record<string, unknown>);
    default:
      throw new Error(`snapshot: unknown tag ${String(o[TAG])}`);
  }
};

const decodeFields = (o: Record<string, unknown>): Record<string, unknown> => {
  for (const k in o) {
    const x = o[k];
    if (x !== null && typeof x === 'object') o[k] = decodeValue(x);
  }
  return o;
};

/** Decodes, in place, only where `paths` leads: the rest is plain JSON already. */
const decodeAlong = (v: unknown, paths: TagPaths): unknown => {
  if (paths === 1) return decodeValue(v);
  if (paths === 'd') return typeof v === 'number' ? new Date(v) : decodeValue(v);
  if (paths === 0 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    const e = paths.e;
    if (e) for (let i = 0; i < v.length; i++) v[i] = decodeAlong(v[i], e);
    return v;
  }
  const o = v as Record<string, unknown>;
  // Own fields only: a field named like one of Object.prototype's ("constructor") in some states is not in every one.
  for (const k in paths.f) if (Object.hasOwn(o, k)) o[k] = decodeAlong(o[k], paths.f[k]);
  return o;
};

export const encodeSnapshot = (v: unknown): string => JSON.stringify(encodeValue(v, '$'));
export const decodeSnapshot = <T>(s: string): T => decodeValue(JSON.parse(s)) as T;

/**
 * A snapshot's section: its JSON, and where its tagged values are. Its decode then visits
 * those places only (a document without them is walked whole), and the Dates of a place that
 * holds no plain number are written as bare numbers: a read model's states are mostly strings
 * and numbers, and their Dates as tagged objects were a quarter of parsing them. Walks the
 * value twice: once to see what each place holds, once to encode it.
 */
export const encodeSection = (v: unknown): { text: string; tags: TagPaths } => {
  const root: Place = {};
  observe(v, root);
  const text = JSON.stringify(encodeValue(v, '$', root));
  return { text, tags: pathsOf(root) };
};

/** Where a long encoding lets the event loop in: a promise when it is time to, nothing before. */
export type Pause = () => Promise<void> | undefined;

/** A plain object whose fields a sliced walk takes one by one (not a tagged value's escape). */
const isFields = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && isPlain(v) && !(TAG in v);

/** observe(), pausing between the elements of the value's big arrays (see encodeSectionInPieces). */
const observeInSlices = async (v: unknown, root: Place, pause: Pause): Promise<void> => {
  const elements = async (a: readonly unknown[], at: Place) => {
    if (at.whole) return;
    const items = (at.items ??= {});
    for (const x of a) {
      observe(x, items);
      await pause();
    }
  };
  if (Array.isArray(v)) return elements(v, root);
  if (!isFields(v)) return observe(v, root);
  for (const k in v) {
    if (root.whole) return;
    const x = v[k];
    if (Array.isArray(x)) await elements(x, fieldOf(root, k));
    else observe(x, fieldOf(root, k));
  }
};

/** JSON.stringify(encodeValue(v, '$', root)), written in pieces, pausing between the elements of its big arrays. */
const writeInSlices = async (v: unknown, root: Place | undefined, write: (text: string) => Promise<void> | void, pause: Pause): Promise<void> => {
  const elements = async (a: readonly unknown[], path: string, at: Place | undefined) => {
    const items = inner(at)?.items;
    await write('[');
    for (let i = 0; i < a.length; i++) {
      await write((i === 0 ? '' : ',') + JSON.stringify(encodeValue(a[i], `${path}[${i}]`, items)));
      await pause();
    }
    await write(']');
  };
  if (Array.isArray(v)) return elements(v, '$', root);
  if (!isFields(v)) return write(JSON.stringify(encodeValue(v, '$', root)));
  const fields = inner(root)?.fields;
  let first = true;
  await write('{');
  for (const [k, x] of Object.entries(v)) {
    await write(`${first ? '' : ','}${JSON.stringify(k)}:`);
    first = false;
    if (Array.isArray(x)) await elements(x, `$.${k}`, fields?.get(k));
    else await write(JSON.stringify(encodeValue(x, `$.${k}`, fields?.get(k))));
  }
  await write('}');
};

/**
 * encodeSection's text, handed to `write` in pieces, with both of its walks paused (`pause`)
 * between the elements of the value's big arrays: those of the value itself if it is an array,
 * or of its fields if it is an object (a model's states and their change times). A section of
 * 50,000 instances held the event loop for seconds when it was encoded at once. The tags are
 * those encodeSection gives, or, where `fits` refuses them (too many places to describe),
 * undefined, and the text is then encodeSnapshot's (no Dates as bare numbers, decoded whole).
 */
export const encodeSectionInPieces = async (
  v: unknown,
  write: (text: string) => Promise<void> | void,
  pause: Pause,
  fits: (tags: TagPaths) => boolean = () => true,
): Promise<TagPaths | undefined> => {
  const root: Place = {};
  await observeInSlices(v, root, pause);
  const tags = pathsOf(root);
  const described = fits(tags);
  await writeInSlices(v, described ? root : undefined, write, pause);
  return described ? tags : undefined;
};

/**
 * Decodes a value already parsed from JSON (a part of a larger document), along `tags` where
 * its section gave them (a snapshot taken before they were written has none: walked whole).
 */
export const decodeSnapshotValue = <T>(v: unknown, tags: TagPaths = 1): T => decodeAlong(v, tags) as T;
