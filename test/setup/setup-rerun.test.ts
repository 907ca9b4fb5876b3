import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const repo = path.join(__dirname, '..', '..', '..');
const run = promisify(execFile);

describe('scripts/setup.sh, as `npm start` runs it before every start', function () {
  this.timeout(300_000);

  it('a second run with nothing changed installs nothing, generates nothing and does not rebuild', async () => {
    // The first run may have work to do (this checkout may have changed); the second must not.
    await run('bash', ['scripts/setup.sh'], { cwd: repo });
    const stamp = path.join(repo, 'dist', '.tsbuildinfo');
    const built = statSync(stamp).mtimeMs;
    const second = await run('bash', ['-x', 'scripts/setup.sh'], { cwd: repo });
    assert.doesNotMatch(second.stderr, /^\+ npx --no-install tsc/m, 'tsc did not run');
    assert.doesNotMatch(second.stderr, /^\+ (npm ci|bash scripts\/gen-proto\.sh|apt-get|sudo apt-get)/m, 'nothing installed or generated');
    assert.equal(statSync(stamp).mtimeMs, built);
  });
});
