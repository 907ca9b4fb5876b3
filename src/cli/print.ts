import Table from 'cli-table3';
import YAML from 'yaml';
import { CliError, EXIT } from './exit';

export const FORMATS = ['table', 'json', 'yaml', 'name'] as const;
export type Format = (typeof FORMATS)[number];

export interface Column<T> {
  readonly header: string;
  cell(o: T): string;
}

/** How one resource is printed: its table columns, its id, its proto3 JSON (the generated toJSON). */
export interface Kind<T> {
  readonly singular: string;
  readonly columns: readonly Column<T>[];
  id(o: T): string;
  toJSON(o: T): unknown;
}

export const column = <T>(header: string, cell: (o: T) => string | number | boolean | undefined): Column<T> => ({
  header,
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

  constructor(readonly format: Format) {
    if (!FORMATS.includes(format)) throw new CliError(`INVALID_ARGUMENT: -o: "${format}" is not one of ${FORMATS.join(', ')}`, EXIT.INVALID_ARGUMENT);
  }

  list<T>(kind: Kind<T>, items: readonly T[]): void {
    switch (this.format) {
      case 'json':
        return this.out(JSON.stringify(items.map((i) => kind.toJSON(i)), null, 2));
      case 'yaml':
        return this.out(YAML.stringify(items.map((i) => kind.toJSON(i))).trimEnd());
      case 'name':
        for (const i of items) this.out(kind.id(i));
        return;
      case 'table':
        if (items.length === 0) return void process.stderr.write(`no ${kind.singular}s\n`);
        return this.out(renderTable(kind.columns.map((c) => c.header), items.map((i) => kind.columns.map((c) => c.cell(i)))));
    }
  }

  one<T>(kind: Kind<T>, item: T): void {
    switch (this.format) {
      case 'json':
        return this.out(JSON.stringify(kind.toJSON(item), null, 2));
      case 'yaml':
        return this.out(YAML.stringify(kind.toJSON(item)).trimEnd());
      case 'name':
        return this.out(kind.id(item));
      case 'table':
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
        return this.out(renderTable(undefined, Object.entries(fields).map(([k, v]) => [`${k}:`, v])));
    }
  }

  /** What a verb did when it has nothing to show (delete, release): words on a table, the id for `name`, quiet for json/yaml. */
  done(id: string, message: string): void {
    if (this.format === 'table') this.out(message);
    else if (this.format === 'name') this.out(id);
    else process.stderr.write(`${message}\n`);
  }

  /** --watch: the objects there now as ADDED, then one line (or document) per change. */
  watchStart<T>(kind: Kind<T>, items: readonly T[]): void {
    if (this.format !== 'table') {
      for (const i of items) this.watchEvent(kind, 'ADDED', i);
      return;
    }
    const header = ['EVENT', ...kind.columns.map((c) => c.header)];
    const rows = items.map((i) => ['ADDED', ...kind.columns.map((c) => c.cell(i))]);
    this.watchWidths = widthsOf([header, ['MODIFIED', ...header.slice(1)], ...rows]);
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
      case 'table': {
        const row = [type, ...kind.columns.map((c) => c.cell(item))];
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
