import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ALLOWED, type Allowed, ruleOf, within } from './allowed-imports';

/*
 * Which folder may import which: each folder's allow-list (allowed-imports.ts,
 * drawn in docs/architecture.md), checked on every run, and no import cycle
 * among the sources. Tests are exempt (a decider's test may check its wire
 * view).
 */

const ROOT = path.resolve(__dirname, '../../..');

export interface Import {
  /** A file or folder of src/ (without .ts), or a package name. */
  readonly target: string;
  readonly local: boolean;
  /** `import type` / `export type`: gone at run time. */
  readonly typeOnly: boolean;
}

const SPEC = /(?:^|\n)\s*((?:import|export)\s[^'"]*?from\s+)['"]([^'"]+)['"]|(?:^|\n)\s*import\s+['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The imports of one source file (relative ones resolved against the repository root). */
export const importsOf = (file: string, text: string): Import[] => {
  const out: Import[] = [];
  for (const m of text.matchAll(SPEC)) {
    const spec = m[2] ?? m[3] ?? m[4];
    const typeOnly = /^(?:import|export)\s+type\s/.test(m[1] ?? '');
    if (spec.startsWith('.')) out.push({ target: path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)), local: true, typeOnly });
    else out.push({ target: spec.replace(/^node:/, '').split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/'), local: false, typeOnly });
  }
  return out;
};

/** Every import a folder's list does not allow, as "file → target (its rule)". */
export const violations = (files: ReadonlyMap<string, string>, allowed: Readonly<Record<string, Allowed>> = ALLOWED): string[] => {
  const out: string[] = [];
  for (const [file, text] of files) {
    const rule = ruleOf(file, allowed);
    if (!rule) {
      out.push(`${file}: its folder has no entry in the allow-list`);
      continue;
    }
    const a = allowed[rule];
    for (const i of importsOf(file, text)) {
      const ok = i.local
        ? within(i.target, rule) || a.src.some((f) => within(i.target, f))
        : a.packages === 'any' || a.packages.includes(i.target);
      if (!ok) out.push(`${file} → ${i.target} (not on the list of ${rule})`);
    }
  }
  return out;
};

/** Import cycles among the files (type-only imports aside), each as "a → b → ... → a". */
export const cycles = (files: ReadonlyMap<string, string>): string[] => {
  const edges = new Map<string, string[]>();
  for (const [file, text] of files) {
    const to = importsOf(file, text)
      .filter((i) => i.local && !i.typeOnly)
      .map((i) => [`${i.target}.ts`, `${i.target}/index.ts`].find((t) => files.has(t)))
      .filter((t): t is string => t !== undefined);
    edges.set(file, to);
  }
  const out: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const walk = (f: string, trail: string[]) => {
    state.set(f, 'open');
    for (const t of edges.get(f) ?? []) {
      if (state.get(t) === 'open') out.push([...trail.slice(trail.indexOf(t)), t].join(' → '));
      else if (!state.has(t)) walk(t, [...trail, t]);
    }
    state.set(f, 'done');
  };
  for (const f of [...files.keys()].sort()) if (!state.has(f)) walk(f, [f]);
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
    assert.ok(root.includes('nats'), `control-plane.ts imports ${root.join(', ')}`);
  });

  it('refuses an import its folder does not list, and a file no entry covers', () => {
    const found = violations(
      new Map([
        ['src/commands/port/decide.ts', "import { Port } from '../../gen/hypervisor/v1/network';\nimport { x } from './state';\nimport { y } from '../../domain/validate';"],
        ['src/agent/agent.ts', "import { unary } from '../grpc/unary';\nimport { Nic } from '../sdn/driver';"],
        ['src/projections/x.ts', "import { readFileSync } from 'node:fs';\nimport type { A } from './a';"],
        ['src/sdn/plan.ts', "import type { SecurityRule } from '../commands/security_group/state';"],
        ['src/eventstore/jetstream/x.ts', "import { largestField } from '../../bus/payload-limit';\nimport { DEFAULT_MAX_PAYLOAD } from '../payload-limit';"],
        ['src/newfolder/x.ts', "import { z } from 'zod';"],
      ]),
    );
    assert.deepEqual(found, [
      'src/commands/port/decide.ts → src/gen/hypervisor/v1/network (not on the list of src/commands)',
      'src/agent/agent.ts → src/grpc/unary (not on the list of src/agent)',
      'src/projections/x.ts → fs (not on the list of src/projections)',
      'src/sdn/plan.ts → src/commands/security_group/state (not on the list of src/sdn)',
      'src/eventstore/jetstream/x.ts → src/bus/payload-limit (not on the list of src/eventstore/jetstream)',
      'src/newfolder/x.ts: its folder has no entry in the allow-list',
    ]);
  });

  it('holds for every source file', () => {
    assert.deepEqual(violations(files), []);
  });

  it('finds an import cycle, and a type-only one is none', () => {
    const found = cycles(
      new Map([
        ['src/cli/instance.ts', "import { consoleVerb } from './console';"],
        ['src/cli/console.ts', "import { getInstance } from './instance';"],
        ['src/commands/x/state.ts', "import type { E } from './events';"],
        ['src/commands/x/events.ts', "import type { S } from './state';"],
      ]),
    );
    assert.deepEqual(found, ['src/cli/console.ts → src/cli/instance.ts → src/cli/console.ts']);
  });

  it('has no import cycle among the sources', () => {
    assert.deepEqual(cycles(files), []);
  });

  it('docs/architecture.md names every entry of the list', () => {
    const doc = readFileSync(path.join(ROOT, 'docs/architecture.md'), 'utf8');
    const missing = Object.keys(ALLOWED).filter((k) => !doc.includes(`\`${k}\``));
    assert.deepEqual(missing, []);
  });
});
