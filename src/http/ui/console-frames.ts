/** The largest terminal side accepted: far past any screen, small enough to be no trick. */
const MAX_SIDE = 10_000;

const side = (n: unknown): n is number => Number.isInteger(n) && (n as number) > 0 && (n as number) <= MAX_SIDE;

/** A console text frame: `{"type":"resize","cols":N,"rows":N}`, or undefined for anything else. */
export const parseResize = (text: string): { cols: number; rows: number } | undefined => {
  let m: { type?: unknown; cols?: unknown; rows?: unknown };
  try {
    m = JSON.parse(text) as typeof m;
  } catch {
    return undefined;
  }
  return m && m.type === 'resize' && side(m.cols) && side(m.rows) ? { cols: m.cols, rows: m.rows } : undefined;
};

/** ?cols=&rows= of the upgrade request: the terminal's size at attach (80×24 for what is absent or not a size). */
export const sizeFrom = (query: URLSearchParams): { cols: number; rows: number } => {
  const n = (v: string | null, d: number) => (v && /^\d{1,5}$/.test(v) && side(Number(v)) ? Number(v) : d);
  return { cols: n(query.get('cols'), 80), rows: n(query.get('rows'), 24) };
};
