import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/*
 * Which folder may import which (docs/architecture.md). A rule names the
 * folders it applies to and what they must not import: other folders of
 * src/, or packages. Tests are exempt (a decider's test may check its wire
 * view); everything else is checked on every run.
 */

const ROOT = path.resolve(__dirname, '../../..');

/** Packages and folders that do I/O: the network, the disk, processes, the event store, the transport. */
const IO_PACKAGES = ['nats', '@grpc/grpc-js', '@eventstore/db-client', 'fs', 'fs/promises', 'child_process', 'net', 'http', 'https', 'dgram', 'dns', 'tls'];
const IO_FOLDERS = ['src/nats', 'src/eventstore/jetstream', 'src/eventstore/esdb', 'src/grpc', 'src/server', 'src/bus', 'src/http', 'src/agent', 'src/snapshots', 'src/cli', 'src/feed'];
const DOMAIN = ['src/commands', 'src/domain', 'src/scheduler', 'src/errors.ts'];

interface Rule {
  readonly what: string;
  readonly from: readonly string[];
  /** Folders (or files) of src/ it must not import. */
  readonly notFolders?: readonly string[];
  /** Packages it must not import (node: prefix ignored). */
  readonly notPackages?: readonly string[];
  /** Only these folders of src/ (and no package but these). */
  readonly onlyFolders?: readonly string[];
  readonly onlyPackages?: readonly string[];
}

export const RULES: readonly Rule[] = [
  {
    what: 'the domain is pure: no I/O, no generated code, no event store',
    from: DOMAIN,
    onlyFolders: DOMAIN,
    onlyPackages: ['crypto', 'ipaddr.js'],
  },
  { what: 'read models do no I/O', from: ['src/projections'], notFolders: IO_FOLDERS, notPackages: IO_PACKAGES, },
  { what: 'the wire views map the domain to generated types, nothing else', from: ['src/wire'], onlyFolders: ['src/wire', 'src/gen', ...DOMAIN], onlyPackages: [] },
  { what: 'the agent shares no server code', from: ['src/agent'], notFolders: ['src/grpc', 'src/server', 'src/processes', 'src/projections'] },
  { what: 'process managers use the read models and the bus, not the gRPC edge', from: ['src/processes'], notFolders: ['src/grpc', 'src/server', 'src/http'] },
  { what: 'shared helpers depend on nothing of either binary', from: ['src/shared'], notFolders: ['src/server', 'src/agent', 'src/grpc', 'src/processes'] },
  { what: 'only the composition root and main use the server', from: ['src'], notFolders: ['src/server'] },
];

/** Where a rule does not apply: the server's own folder and main may use the server; the deciders' test helper asserts. */
const EXEMPT: Record<string, readonly string[]> = {
  'only the composition root and main use the server': ['src/server', 'src/main.ts'],
  'the domain is pure: no I/O, no generated code, no event store': ['src/commands/testing.ts'],
};

const within = (file: string, folder: string) => {
  const f = file.replace(/\.ts$/, '');
  const d = folder.replace(/\.ts$/, '');
  return f === d || f.startsWith(`${d}/`);
};

export interface Import {
  /** A file or folder of src/ (without .ts), or a package name. */
  readonly target: string;
  readonly local: boolean;
}

const SPEC = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|(?:^|\n)\s*import\s+['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The imports of one source file (relative ones resolved against the repository root). */
export const importsOf = (file: string, text: string): Import[] => {
  const out: Import[] = [];
  for (const m of text.matchAll(SPEC)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec.startsWith('.')) out.push({ target: path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)), local: true });
    else out.push({ target: spec.replace(/^node:/, '').split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/'), local: false });
  }
  return out;
};

/** Every import that breaks a rule, as "file → target (rule)". */
export const violations = (files: ReadonlyMap<string, string>, rules: readonly Rule[] = RULES): string[] => {
  const out: string[] = [];
  for (const [file, text] of files) {
    for (const r of rules) {
      if (!r.from.some((f) => within(file, f)) || (EXEMPT[r.what] ?? []).some((f) => within(file, f))) continue;
      for (const i of importsOf(file, text)) {
        const bad = i.local
          ? (r.notFolders ?? []).some((f) => within(i.target, f)) || (r.onlyFolders !== undefined && !r.onlyFolders.some((f) => within(i.target, f)))
          : (r.notPackages ?? []).includes(i.target) || (r.onlyPackages !== undefined && !r.onlyPackages.includes(i.target));
        if (bad) out.push(`${file} → ${i.target} (${r.what})`);
      }
    }
  }
  return out;
};

const sources = (dir: string, out = new Map<string, string>()): Map<string, string> => {
  for (const name of readdirSync(path.join(ROOT, dir))) {
    const rel = `${dir}/${name}`;
    if (rel === 'src/gen') continue;
    if (statSync(path.join(ROOT, rel)).isDirectory()) sources(rel, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.set(rel, readFileSync(path.join(ROOT, rel), 'utf8'));
  }
  return out;
};

describe('architecture: which folder may import which', () => {
  const files = sources('src');

  it('reads the imports of the sources (the check below sees what it checks)', () => {
    assert.ok(files.size > 100, `only ${files.size} source files found under src/`);
    const root = importsOf('src/server/control-plane.ts', files.get('src/server/control-plane.ts')!).map((i) => i.target);
    assert.ok(root.includes('src/server/planes/cluster'), `control-plane.ts imports ${root.join(', ')}`);
    assert.ok(root.includes('@grpc/grpc-js'));
  });

  it('finds an import that breaks a rule', () => {
    const found = violations(
      new Map([
        ['src/commands/port/decide.ts', "import { Port } from '../../gen/hypervisor/v1/network';\nimport { x } from './state';"],
        ['src/agent/agent.ts', "import { unary } from '../grpc/unary';"],
        ['src/projections/x.ts', "import { readFileSync } from 'node:fs';\nimport type { A } from './a';"],
      ]),
    );
    assert.deepEqual(found, [
      'src/commands/port/decide.ts → src/gen/hypervisor/v1/network (the domain is pure: no I/O, no generated code, no event store)',
      'src/agent/agent.ts → src/grpc/unary (the agent shares no server code)',
      'src/projections/x.ts → fs (read models do no I/O)',
    ]);
  });

  it('holds for every source file', () => {
    assert.deepEqual(violations(files), []);
  });
});
