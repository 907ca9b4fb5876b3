/** The value after a flag of a bench's command line (`--phase fill`), or undefined when it is not given. */
export const flagValue = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};

/** A numeric flag of a bench's command line (`--rounds 20`), or `dflt` when it is not given. */
export const numberArg = (name: string, dflt: number): number => {
  const v = flagValue(name);
  return v === undefined ? dflt : Number(v);
};
