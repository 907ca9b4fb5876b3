import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { HVCTL, isolatedEnv } from '../support/hvctl';

/** `hvctl … | head`: a reader that closes the pipe early ends hvctl quietly, with status 0, as it ends any Unix tool. */
describe('hvctl writing into a pipe closed early', () => {
  it('exits 0 with nothing on stderr', async () => {
    const child = spawn(process.execPath, [HVCTL, 'completion', 'bash'], { env: isolatedEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    // Closed before hvctl writes a byte: its first write fails with EPIPE.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((r) => child.once('close', (c) => r(c)));
    assert.equal(stderr, '');
    assert.equal(code, 0);
  });
});
