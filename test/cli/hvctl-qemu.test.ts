import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import path from 'node:path';
import type { Agent } from '../../src/agent/agent';
import { formatBytes } from '../../src/cli/format';
import { removeStateDir, startAgent } from '../support/agent';
import { TestControlPlane } from '../support/control-plane';
import { HVCTL, hvctl, isolatedEnv } from '../support/hvctl';
import { ImageServer, sha256Of, testGuestDir } from '../support/image-server';
import { TmuxTerminal } from '../support/tmux';

/** About one boot in twenty prints nothing under TCG: a silent guest is restarted once. */
const BOOT_DEADLINE_MS = 25_000;


const escape = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('hvctl on real QEMU (TCG): image pull, create --wait, the console in a pseudo-terminal', function () {
  this.timeout(240_000);
  const token = randomBytes(2).toString('hex');
  const t = new TestControlPlane();
  let guest: string;
  let images: ImageServer;
  let agent: Agent;
  const terms: TmuxTerminal[] = [];
  const hv = (...args: string[]) => hvctl(['--server', t.address, ...args], { timeoutMs: 120_000 });
  const term = () => {
    const tt = new TmuxTerminal(`${token}${terms.length}`);
    terms.push(tt);
    return tt;
  };
  /** How the CLI shows a test-guest file's size. */
  const sizeOf = (file: string) => formatBytes(statSync(path.join(guest, file)).size);

  before(async () => {
    guest = testGuestDir();
    images = await new ImageServer(guest).start();
    await t.start();
    agent = await startAgent(t, { hostname: `hvt${token}-qemu` });
  });
  after(async () => {
    for (const tt of terms) tt.stop();
    await agent?.stop();
    await t.stop();
    await images?.stop();
    if (agent) removeStateDir(agent);
  });

  it('image pull: plain progress lines when not on a terminal, the image on stdout', async () => {
    const ref = `${images.url('vmlinuz')}#sha256=${sha256Of(path.join(guest, 'vmlinuz'))}`;
    const r = await hv('image', 'pull', ref);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^pulling http:\/\/127\.0\.0\.1:\d+\/vmlinuz$/m);
    assert.match(r.stderr, /^downloading [\d.]+(B|KiB|MiB) of 13\.5MiB \(\d+%\)$/m);
    assert.match(r.stderr, /^verifying: sha256 [0-9a-f]{64} \(matches\) 13\.5MiB of 13\.5MiB \(100%\)$/m);
    // No terminal: no bar, no carriage returns.
    assert.ok(!r.stderr.includes('\r'), r.stderr);
    const [header, row] = r.stdout.trimEnd().split('\n');
    assert.match(header, /^NAME\s+ID\s+TYPE\s+SIZE\s+TAGS\s+AGE$/);
    // The guest is built from Debian's packages, so its sizes are read, not known in advance.
    assert.match(row, new RegExp(`^vmlinuz\\s+\\S+\\s+\\w+\\s+${escape(sizeOf('vmlinuz'))}\\s`));
    assert.deepEqual((await hv('image', 'list', '-o', 'name')).stdout.trim().split('\n'), [row.split(/\s+/)[1]]);
  });

  it('image pull on a terminal: a progress bar with bytes, rate and ETA', async () => {
    images.throttle.set('initramfs.cpio.gz', 400_000);
    const tt = term();
    tt.start([process.execPath, HVCTL, '--server', t.address, 'image', 'pull', images.url('initramfs.cpio.gz')], { HVCTL_CONFIG: isolatedEnv().HVCTL_CONFIG! }, 120, 10);
    // Caught mid-download (the server sends 400 kB/s): part of the bar filled.
    const size = escape(sizeOf('initramfs.cpio.gz'));
    await tt.waitFor(new RegExp(`downloading \\[█+░+\\] \\d+% \\| [\\d.]+(B|KiB|MiB) of ${size} \\| [\\d.]+(B|KiB|MiB)\\/s \\| ETA \\S+`));
    assert.equal(await tt.waitForExit(60_000), 0, tt.screen());
    assert.match(tt.screen(), new RegExp(`initramfs\\.cpio\\.gz\\s+\\S+\\s+\\w+\\s+${size}`));
    images.throttle.delete('initramfs.cpio.gz');
  });

  it('create --wait: PENDING, CREATING, RUNNING; the console answers a command; deleting the instance while attached ends it with exit 22', async () => {
    const name = `vm-${token}`;
    const r = await hv('instance', 'create', name, '--type', 'vm', '--cpus', '1', '--memory', '256MiB', '--kernel', 'vmlinuz', '--initrd', images.url('initramfs.cpio.gz'), '--image', images.url('disk.raw'), '--disk', 'root=64MiB', '--wait');
    assert.equal(r.code, 0, r.stderr);
    const states = [...r.stderr.matchAll(new RegExp(`^instance ${name}: (\\w+)`, 'gm'))].map((m) => m[1]);
    assert.deepEqual(states.filter((s, i) => s !== states[i - 1]), ['PENDING', 'CREATING', 'RUNNING']);
    assert.match(r.stdout, new RegExp(`^${name}\\s+\\S+\\s+vm\\s+RUNNING\\s`, 'm'));

    const tt = term();
    tt.start([process.execPath, HVCTL, '--server', t.address, 'instance', 'console', name], { HVCTL_CONFIG: isolatedEnv().HVCTL_CONFIG! });
    await tt.waitFor(/attached to instance/);
    try {
      await tt.waitFor(/HV-GUEST-READY/, BOOT_DEADLINE_MS);
    } catch {
      console.warn(`      ${name}: no HV-GUEST-READY within ${BOOT_DEADLINE_MS} ms (the known TCG boot hang); restarting it once`);
      assert.equal((await hv('instance', 'restart', name, '--force')).code, 0);
      await tt.waitFor(/HV-GUEST-READY/, BOOT_DEADLINE_MS);
    }
    // The guest's shell takes a line once it printed its prompt (late kernel messages may follow it on the same line); Enter in raw mode is CR, as a terminal sends.
    await tt.waitFor(/built-in commands\.\s*\n# /, 15_000);
    tt.type('echo hv-$((6*7))');
    tt.keys('Enter');
    await tt.waitFor(/^hv-42\s*$/m, 15_000);

    const del = await hv('instance', 'delete', name);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(await tt.waitForExit(60_000), 22, tt.screen());
    assert.match(tt.screen(), new RegExp(`error: instance ${name} was deleted`));
  });
});
