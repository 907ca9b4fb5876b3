/** A numeric flag of a bench's command line (`--rounds 20`), or `dflt` when it is not given. */
export const numberArg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
