import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HVCTL, isolatedEnv } from '../support/hvctl';

/**
 * hvctl is a gRPC client: each start loads what that needs and no more. Only `hvctl verify`
 * reads the log itself (NATS, the event store, every model's decider and replay); those load
 * with that verb, not on every start of every other one (they were 423 of 676 modules).
 */
describe('hvctl starts with a gRPC client only', () => {
  const probe = path.join(os.tmpdir(), `hvctl-loaded-${process.pid}.js`);
  after(() => rmSync(probe, { force: true }));
  /** The files hvctl has loaded when it exits, run with `args` as a user runs it. */
  const loadedBy = (args: string[]): string[] => {
    writeFileSync(probe, "process.on('exit', () => process.stderr.write('\\nLOADED ' + JSON.stringify(Object.keys(require.cache)) + '\\n'));\n");
    let stderr = '';
    try {
      execFileSync(process.execPath, ['-r', probe, HVCTL, ...args], { env: isolatedEnv(), encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      stderr = String((e as { stderr?: string }).stderr ?? '');
    }
    const line = stderr.split('\n').find((l) => l.startsWith('LOADED ')) ?? '';
    return line ? (JSON.parse(line.slice('LOADED '.length)) as string[]) : [];
  };
  const heavy = (files: string[]) =>
    files.filter((f) => /node_modules\/(nats|rxjs|@eventstore)\//.test(f) || /dist\/src\/(commands|eventstore|verify|projections)\//.test(f)).map((f) => f.replace(/^.*\/(node_modules|dist)\//, ''));

  it('a resource verb loads no NATS client, event store, decider or read model', () => {
    // No server listens on port 1: the verb fails, and what it loaded by then is counted.
    const files = loadedBy(['--server', '127.0.0.1:1', 'network', 'list']);
    assert.ok(files.some((f) => f.includes('@grpc/grpc-js')), `the probe saw hvctl's modules: ${files.length}`);
    assert.deepEqual(heavy(files).slice(0, 5), []);
  });

  it('verify loads them when it runs', () => {
    const files = loadedBy(['--server', '127.0.0.1:1', 'verify', '--nats-url', 'nats://127.0.0.1:1']);
    assert.ok(heavy(files).some((f) => f.startsWith('nats/')), `verify loaded no NATS client: ${heavy(files).length} heavy files`);
  });
});
