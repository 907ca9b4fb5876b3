const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

// Mocha adds a config's `spec` to the files named on the command line, so
// `npx mocha dist/test/x.test.js` would run the whole suite as well: the
// default spec applies only when no test file is named.
// A flag's value (`--reporter ./r.js`, `--require x.js`) is not a test file.
const valueFlags = new Set(['--require', '-r', '--file', '--ignore', '--config', '--spec', '--reporter', '-R', '--reporter-option', '-O']);
const named = process.argv.slice(2).filter((a, i, all) => /\.js$/.test(a) && !a.startsWith('-') && !valueFlags.has(all[i - 1]));

// The whole suite runs its files in parallel worker processes: each file's
// namespaces, address ranges, ports and data dirs are its own. The slowest
// files (guests booted under TCG, NATS clusters killed and healed) start
// first, so the workers end together instead of one waiting on a late slow file.
const SLOW_FIRST = [
  // Longest first, as CI's log times them (each file's "took" line, 2 cores, TCG).
  'test/cloud-init/cloud-image.test.js',
  'test/dataplane/migrate-faults-netns.test.js',
  'test/dataplane/container-cold-move.test.js',
  'test/storage/volumes-qemu.test.js',
  'test/quick-start/readme.test.js',
  'test/compute/migrate-cold.test.js',
  'test/compute/faults.test.js',
  'test/dataplane/vm-security.test.js',
  'test/dataplane/drain-netns.test.js',
  'test/dataplane/migrate-network.test.js',
  'test/ha/chaos.test.js',
  'test/cli/hvctl-compute.test.js',
  'test/dataplane/vm-routers.test.js',
  'test/cli/hvctl-network.test.js',
  'test/compute/migrate-volume.test.js',
  'test/dataplane/vm-network.test.js',
  'test/agent/qemu-migration.test.js',
  'test/agent/qemu-driver.test.js',
];

const testFiles = (dir) =>
  fs.existsSync(dir)
    ? fs.readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.test.js')).map((f) => path.join(dir, f)).sort()
    : [];

const suite = () => {
  const all = [...testFiles('dist/src'), ...testFiles('dist/test')];
  const first = SLOW_FIRST.map((f) => path.join('dist', f)).filter((f) => all.includes(f));
  return [...first, ...all.filter((f) => !first.includes(f))];
};

module.exports = {
  timeout: 20000,
  // A handle a test leaves open must not hang CI: mocha exits after the run, and the root hook
  // (test/support/report-handles.ts) prints what was still open, so a leak is seen and fixed.
  exit: true,
  require: ['dist/test/support/report-handles.js'],
  reporter: 'spec',
  ...(named.length ? {} : { spec: suite(), parallel: true, jobs: Math.min(4, Math.max(2, os.cpus().length)) }),
};
