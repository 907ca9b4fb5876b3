import ipaddr from 'ipaddr.js';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * One thing a binary can be told: its flag, its environment variable, how a raw
 * value becomes a value (or why it cannot), its default and its help. Each
 * option is written once, in src/options/table.ts; the binaries, the embedded
 * agent and the tests all read it from there.
 */
export interface OptionSpec<T> {
  /**
   * Commander flags: `--grpc-port <port>`, `--driver <kind...>`, `--no-feed`
   * (a switch that is on unless given), `--agent` (a switch). None: the
   * option is set only by its environment variable.
   */
  readonly flag?: string;
  /** A switch that also has `--no-…`, so leaving both out means "decide for me" (the default). */
  readonly negatable?: boolean;
  /** Help of the `--no-…` flag of a negatable switch. */
  readonly negatedHelp?: string;
  readonly env?: string;
  readonly help: string;
  /** A raw value (a flag's argument or the environment variable) to the value; throws an Error saying why not. `prev` is what earlier repeats of the flag gave. */
  readonly parse: (raw: string, prev: T | undefined) => T;
  /** Neither flag nor environment variable given. */
  readonly default: (env: Env) => T;
  /** How help shows the default, where printing it would mislead (a home directory, the host name). */
  readonly defaultHelp?: string;
  /** Each repeat of the flag adds to the value (through `parse`'s `prev`); otherwise the last one counts. */
  readonly repeatable?: boolean;
}

// `any`: each entry has its own value type, and `parse` makes OptionSpec invariant in it
export type Options = Record<string, OptionSpec<any>>;
/** The values a table of options gives: the config type is derived from the table, never restated. */
export type OptionValues<O> = { readonly [K in keyof O]: O[K] extends OptionSpec<infer T> ? T : never };

interface Common {
  readonly flag?: string;
  readonly env?: string;
  readonly help: string;
  readonly defaultHelp?: string;
}

const fixed =
  <T>(v: T | ((env: Env) => T)) =>
  (env: Env): T =>
    typeof v === 'function' ? (v as (env: Env) => T)(env) : v;

/** A string; `undefined` when none is given and there is no default. */
export function text(o: Common & { readonly default: string | ((env: Env) => string) }): OptionSpec<string>;
export function text(o: Common): OptionSpec<string | undefined>;
export function text(o: Common & { readonly default?: string | ((env: Env) => string) }): OptionSpec<any> {
  return {
    ...o,
    parse: (raw) => {
      if (raw.trim() === '') throw new Error('must not be empty');
      return raw;
    },
    default: o.default === undefined ? () => undefined : fixed(o.default),
  };
}

/** An integer in [min, max]; `undefined` when none is given and there is no default. */
export function integer(o: Common & { readonly min?: number; readonly max?: number; readonly default: number }): OptionSpec<number>;
export function integer(o: Common & { readonly min?: number; readonly max?: number }): OptionSpec<number | undefined>;
export function integer(o: Common & { readonly min?: number; readonly max?: number; readonly default?: number }): OptionSpec<any> {
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = o;
  return {
    ...o,
    parse: (raw) => {
      const s = raw.trim();
      if (!/^[+-]?\d+$/.test(s)) throw new Error(`"${raw}" is not an integer`);
      const n = Number(s);
      if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`${s} is not between ${min} and ${max}`);
      return n;
    },
    default: () => o.default,
  };
}

/** A TCP port; 0 picks a free one. */
export const port = (o: Common & { readonly default: number }): OptionSpec<number> => integer({ ...o, min: 0, max: 65535 });

/** A duration in (possibly fractional) seconds; `positive` refuses 0. */
export const seconds = (o: Common & { readonly default: number; readonly positive?: boolean }): OptionSpec<number> => ({
  ...o,
  parse: (raw) => {
    const s = raw.trim();
    const n = /^\+?(\d+(\.\d*)?|\.\d+)$/.test(s) ? Number(s) : Number.NaN;
    if (!Number.isFinite(n)) throw new Error(`"${raw}" is not a number of seconds`);
    if (o.positive && n === 0) throw new Error('must be more than 0');
    return n;
  },
  default: () => o.default,
});

/** One of a fixed set of words. */
export const oneOf = <const C extends string>(o: Common & { readonly choices: readonly C[]; readonly default: C }): OptionSpec<C> => ({
  ...o,
  help: `${o.help} (${o.choices.join(', ')})`,
  parse: (raw) => {
    if (!(o.choices as readonly string[]).includes(raw)) throw new Error(`"${raw}" is not one of ${o.choices.join(', ')}`);
    return raw as C;
  },
  default: () => o.default,
});

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];
const parseBool = (raw: string): boolean => {
  const s = raw.trim().toLowerCase();
  if (TRUE.includes(s)) return true;
  if (FALSE.includes(s)) return false;
  throw new Error(`"${raw}" is not one of ${[...TRUE, ...FALSE].join(', ')}`);
};

/** On or off: `--no-x` for one that is on by default, `--x` (and `--no-x`, if negatable) otherwise. */
export function toggle(o: Common & { readonly negatable?: boolean; readonly default: boolean }): OptionSpec<boolean>;
export function toggle(o: Common & { readonly negatable?: boolean; readonly negatedHelp?: string }): OptionSpec<boolean | undefined>;
export function toggle(o: Common & { readonly negatable?: boolean; readonly negatedHelp?: string; readonly default?: boolean }): OptionSpec<any> {
  return { ...o, parse: parseBool, default: () => o.default };
}

/** Names, from repeats of the flag, its variadic arguments or commas (`qemu,hollow`). */
export const list = (o: Common & { readonly default: readonly string[] }): OptionSpec<readonly string[]> => ({
  ...o,
  repeatable: true,
  parse: (raw, prev) => {
    const items = raw.split(',').map((s) => s.trim());
    if (items.some((s) => s === '')) throw new Error(`"${raw}" has an empty name`);
    return [...(prev ?? []), ...items];
  },
  default: () => o.default,
});

/** `key=value` pairs, one per repeat of the flag (or comma-separated in the environment). */
export const keyValues = (o: Common): OptionSpec<Readonly<Record<string, string>>> => ({
  ...o,
  repeatable: true,
  parse: (raw, prev) => {
    const out = { ...prev };
    for (const pair of raw.split(',')) {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`"${pair}" is not key=value`);
      out[pair.slice(0, at)] = pair.slice(at + 1);
    }
    return out;
  },
  default: () => ({}),
});

/** An IP address (v4 or v6). */
export const ipAddress = (o: Common & { readonly default: string | ((env: Env) => string) }): OptionSpec<string> => ({
  ...o,
  parse: (raw) => {
    if (!ipaddr.isValid(raw.trim())) throw new Error(`"${raw}" is not an IP address`);
    return raw.trim();
  },
  default: fixed(o.default),
});

/**
 * The same option under another flag: the embedded agent's `--agent-port` is
 * the agent's `--port`, with the same environment variable, parser and default.
 */
export const prefixed = <T>(prefix: string, spec: OptionSpec<T>, help = spec.help): OptionSpec<T> => ({
  ...spec,
  help,
  flag: spec.flag?.replace(/^--(no-)?/, (_m, no: string | undefined) => `--${no ?? ''}${prefix}-`),
});
