import { Command, Option } from 'commander';
import type { Env, Options, OptionSpec, OptionValues } from './option';

/** A value that cannot be used, named by the flag or environment variable it came from. */
export class OptionError extends Error {
  override readonly name = 'OptionError';
}

const takesValue = (spec: OptionSpec<unknown>) => /[<[]/.test(spec.flag ?? '');
const shown = (v: unknown) => (Array.isArray(v) ? v.join(',') : typeof v === 'object' ? undefined : JSON.stringify(v));

const describe = (spec: OptionSpec<unknown>, env: Env): string => {
  const extra: string[] = [];
  const d = spec.defaultHelp ?? (takesValue(spec) ? shown(spec.default(env)) : undefined);
  if (d !== undefined && d !== '' && d !== '""') extra.push(`default: ${d}`);
  if (spec.env) extra.push(`env: ${spec.env}`);
  return extra.length ? `${spec.help} (${extra.join('; ')})` : spec.help;
};

const negation = (flag: string) => flag.replace(/^--/, '--no-').split(' ')[0];

/**
 * Adds the table's flags to a command. Commander only collects what was typed:
 * defaults, the environment and parsing are ours (one path for flags and
 * environment alike), so a bad value is refused the same way from either.
 */
export const addOptions = (cmd: Command, options: Options, env: Env): Map<string, Option[]> => {
  const byKey = new Map<string, Option[]>();
  for (const [key, spec] of Object.entries(options)) {
    if (!spec.flag) continue;
    const opt = new Option(spec.flag, describe(spec, env));
    if (takesValue(spec)) opt.argParser((raw: string, prev: unknown) => [...((prev as string[] | undefined) ?? []), raw]);
    const opts = [opt];
    if (spec.negatable) opts.push(new Option(negation(spec.flag), spec.negatedHelp ?? `the opposite of ${spec.flag}`));
    for (const o of opts) cmd.addOption(o);
    byKey.set(key, opts);
  }
  return byKey;
};

const parseRaw = <T>(spec: OptionSpec<T>, raws: readonly string[], from: string): T => {
  try {
    let v: T | undefined;
    for (const raw of spec.repeatable ? raws : raws.slice(-1)) v = spec.parse(raw, v);
    return v as T;
  } catch (e) {
    throw new OptionError(`${from}: ${(e as Error).message}`);
  }
};

/** The values after `cmd.parse(...)`: a typed flag, else the environment variable, else the default. */
export const valuesOf = <O extends Options>(cmd: Command, options: O, env: Env, byKey: Map<string, Option[]>): OptionValues<O> => {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(options)) {
    const typed = (byKey.get(key) ?? []).find((o) => cmd.getOptionValueSource(o.attributeName()) === 'cli');
    const raw = spec.env !== undefined ? env[spec.env] : undefined;
    if (typed && takesValue(spec)) out[key] = parseRaw(spec, cmd.getOptionValue(typed.attributeName()) as string[], `option '${spec.flag}'`);
    else if (typed) out[key] = cmd.getOptionValue(typed.attributeName()) as boolean;
    else if (raw !== undefined && raw !== '') out[key] = parseRaw(spec, [raw], spec.env as string);
    else out[key] = spec.default(env);
  }
  return out as OptionValues<O>;
};

/** Reads a table from arguments and environment; throws OptionError (or commander's error, with exitOverride) on a bad value. */
export const readOptions = <O extends Options>(options: O, argv: readonly string[] = [], env: Env = process.env, cmd = new Command().exitOverride()): OptionValues<O> => {
  const byKey = addOptions(cmd, options, env);
  cmd.parse([...argv], { from: 'user' });
  return valuesOf(cmd, options, env, byKey);
};

/** The values from the environment and defaults alone (tests and embedded components start from these). */
export const fromEnvironment = <O extends Options>(options: O, env: Env = process.env): OptionValues<O> => readOptions(options, [], env);

/** A binary's command line: `--help` lists the table; a bad value prints what is wrong and exits 1. */
export const commandLine = <O extends Options>(name: string, description: string, options: O): OptionValues<O> => {
  const cmd = new Command(name).description(description);
  try {
    return readOptions(options, process.argv.slice(2), process.env, cmd);
  } catch (e) {
    if (e instanceof OptionError) cmd.error(`error: ${e.message}`);
    throw e;
  }
};
