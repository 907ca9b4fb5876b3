import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..', '..');

const files = (dir: string, base = dir): string[] =>
  readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? files(p, base) : [path.relative(base, p)];
  });

describe('protos and generated code', function () {
  this.timeout(60_000);

  it('buf lint is clean', () => {
    execFileSync(path.join(ROOT, 'node_modules/.bin/buf'), ['lint'], { cwd: ROOT, stdio: 'pipe' });
  });

  it('src/gen is exactly what scripts/gen-proto.sh makes from proto/ (no stale generation)', () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'hv-gen-'));
    try {
      execFileSync('bash', [path.join(ROOT, 'scripts/gen-proto.sh'), out], { cwd: ROOT, stdio: 'pipe' });
      const fresh = path.join(out, 'src/gen');
      const committed = path.join(ROOT, 'src/gen');
      assert.deepEqual(files(fresh).sort(), files(committed).sort());
      for (const f of files(fresh))
        assert.ok(readFileSync(path.join(fresh, f)).equals(readFileSync(path.join(committed, f))), `src/gen/${f} is stale: run npm run gen`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('serves the published services with the contract\'s method counts', () => {
    const count = (file: string) => (readFileSync(path.join(ROOT, 'proto/hypervisor/v1', file), 'utf8').match(/^\s*rpc /gm) ?? []).length;
    assert.deepEqual(
      { cluster: count('cluster.proto'), compute: count('compute.proto'), agent: count('agent.proto'), network: count('network.proto') },
      { cluster: 8, compute: 13, agent: 9, network: 37 },
    );
  });
});
