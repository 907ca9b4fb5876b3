import Table from 'cli-table3';
import YAML from 'yaml';
import { CliError, EXIT } from './exit';
import type { NameKind } from './names';

/** table shows names where a resource refers to another; wide adds their ids. */
export const FORMATS = ['table', 'wide', 'json', 'yaml', 'name'] as const;
export type Format = (typeof FORMATS)[number];

export interface Column<T> {
  readonly header: string;
  /** Only in `-o wide` (the ids behind the names). */
  readonly wide?: boolean;
  /** How wide its cells usually are (a UUID: 36), so a watch's header fits rows it has not seen yet. */
  readonly width?: number;
  cell(o: T): string;
}

/** How one resource is printed: its table columns, its id, its proto3 JSON (the generated toJSON). */
export interface Kind<T> {
  readonly singular: string;
  readonly columns: readonly Column<T>[];
  /** The names its columns show (looked up before the table is printed). */
  readonly needs?: readonly NameKind[];
  id(o: T): string;
  toJSON(o: T): unknown;
}

export const column = <T>(header: string, cell: (o: T) => string | number | boolean | undefined, opts: { wide?: boolean; width?: number } = {}): Column<T> => ({
  header,
  ...opts,
  cell: (o) => {
    const v = cell(o);
    return v === undefined ? '' : String(v);
  },
});

const NO_BORDER = {
  top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
  bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
  left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '',
};

/** Rows padded into columns two spaces apart, kubectl style; widths can be pinned so later rows line up. */
export const renderTable = (header: string[] | undefined, rows: string[][], widths?: number[]): string => {
  const t = new Table({
    ...(header ? { head: header } : {}),
    chars: NO_BORDER,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 2, compact: true },
    ...(widths ? { colWidths: widths.map((w) => w + 2) } : {}),
  });
  t.push(...rows);
  return t
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '')
    .join('\n');
};

const widthsOf = (rows: string[][]): number[] => rows[0].map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length)));

/**
 * One printer per output format, chosen by -o and never by the verb: every
 * verb hands its result here, and --watch reuses it row by row.
 */
export class Printer {
  private watchWidths?: number[];

  constructor(
    readonly format: Format,
    /** Looks up the names a kind's columns show. */
    private readonly prepare: (kinds: readonly NameKind[]) => Promise<void> = async () => undefined,
  ) {
    if (!FORMATS.includes(format)) throw new CliError(`INVALID_ARGUMENT: -o: "${format}" is not one of ${FORMATS.join(', ')}`, EXIT.INVALID_ARGUMENT);
  }

  /** A table for a person (table or wide). */
  get tabular(): boolean {
    return this.format === 'table' || this.format === 'wide';
  }

  private columnsOf<T>(kind: Kind<T>): readonly Column<T>[] {
    return this.format === 'wide' ? kind.columns : kind.columns.filter((c) => !c.wide);
  }

  async list<T>(kind: Kind<T>, items: readonly T[]): Promise<void> {
    if (this.tabular && kind.needs?.length && items.length) await this.prepare(kind.needs);
    switch (this.format) {
      case 'json':
        return this.out(JSON.stringify(items.map((i) => kind.toJSON(i)), null, 2));
      case 'yaml':
        return this.out(YAML.stringify(items.map((i) => kind.toJSON(i))).trimEnd());
      case 'name':
        for (const i of items) this.out(kind.id(i));
        return;
      case 'table':
      case 'wide': {
        if (items.length === 0) return void process.stderr.write(`no ${kind.singular}s\n`);
        const cols = this.columnsOf(kind);
        return this.out(renderTable(cols.map((c) => c.header), items.map((i) => cols.map((c) => c.cell(i)))));
      }
    }
  }

  async one<T>(kind: Kind<T>, item: T): Promise<void> {
    switch (this.format) {
      case 'json':
        return this.out(JSON.stringify(kind.toJSON(item), null, 2));
      case 'yaml':
        return this.out(YAML.stringify(kind.toJSON(item)).trimEnd());
      case 'name':
        return this.out(kind.id(item));
      case 'table':
      case 'wide':
        return this.list(kind, [item]);
    }
  }

  /** A plain record (cluster info, stats, verify's result): a two-column table, or the object as it is. */
  record(id: string, fields: Record<string, string>, json: unknown): void {
    switch (this.format) {
      case 'json':
        return this.out(JSON.stringify(json, null, 2));
      case 'yaml':
        return this.out(YAML.stringify(json).trimEnd());
      case 'name':
        return this.out(id);
      case 'table':
      case 'wide':
        return this.out(renderTable(undefined, Object.entries(fields).map(([k, v]) => [`${k}:`, v])));
    }
  }

  /** What a verb did when it has nothing to show (delete, release): words on a table, the id for `name`, quiet for json/yaml. */
  done(id: string, message: string): void {
    if (this.tabular) this.out(message);
    else if (this.format === 'name') this.out(id);
    else process.stderr.write(`${message}\n`);
  }

  /** --watch: the objects there now as ADDED, then one line (or document) per change. */
  async watchStart<T>(kind: Kind<T>, items: readonly T[]): Promise<void> {
    if (!this.tabular) {
      for (const i of items) this.watchEvent(kind, 'ADDED', i);
      return;
    }
    if (kind.needs?.length) await this.prepare(kind.needs);
    const cols = this.columnsOf(kind);
    const header = ['EVENT', ...cols.map((c) => c.header)];
    const rows = items.map((i) => ['ADDED', ...cols.map((c) => c.cell(i))]);
    // Widths from the header, the rows there are, and what cells usually take: rows that come later line up with the header.
    const usual = ['MODIFIED', ...cols.map((c) => ' '.repeat(c.width ?? 0))];
    this.watchWidths = widthsOf([header, usual, ...rows]);
    this.out(renderTable(header, rows, this.watchWidths));
  }

  watchEvent<T>(kind: Kind<T>, type: string, item: T): void {
    switch (this.format) {
      case 'json':
        return this.out(JSON.stringify({ type, object: kind.toJSON(item) }));
      case 'yaml':
        return this.out(`---\n${YAML.stringify({ type, object: kind.toJSON(item) }).trimEnd()}`);
      case 'name':
        return this.out(kind.id(item));
      case 'table':
      case 'wide': {
        const row = [type, ...this.columnsOf(kind).map((c) => c.cell(item))];
        // A cell wider than its column widens it from here on: later rows line up with this one.
        this.watchWidths = row.map((c, i) => Math.max([...c].length, this.watchWidths?.[i] ?? 0));
        return this.out(renderTable(undefined, [row], this.watchWidths));
      }
    }
  }

  out(s: string): void {
    process.stdout.write(`${s}\n`);
  }
}
