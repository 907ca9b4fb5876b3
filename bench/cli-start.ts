import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { percentile } from './support/stats';
import { numberArg } from './support/args';

/**
 * How long hvctl takes to start (`hvctl --help`: every verb's module loaded, nothing
 * asked of a server), beside what sets its floor, in the same rounds, interleaved:
 * Node.js starting with nothing to load, and Node.js loading grpc-js, the client library
 * every verb needs. `node dist/bench/cli-start.js [--rounds 20]`.
 */
const HVCTL = path.join(__dirname, '..', 'src', 'cli', 'hvctl.js');
const rounds = numberArg('rounds', 20);

const runs: Record<string, readonly string[]> = {
  "node -e ''": ['-e', ''],
  "node -e \"require('@grpc/grpc-js')\"": ['-e', "require('@grpc/grpc-js')"],
  'hvctl --help': [HVCTL, '--help'],
};
const times: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));

for (let r = 0; r < rounds; r++) {
  for (const [name, args] of Object.entries(runs)) {
    const t0 = process.hrtime.bigint();
    execFileSync(process.execPath, args, { stdio: 'ignore', cwd: path.join(__dirname, '..', '..') });
    times[name].push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
}

console.log(`hvctl start, ${rounds} rounds interleaved; ${os.cpus().length} × ${os.cpus()[0]?.model}, Node.js ${process.version}, load average ${os.loadavg()[0].toFixed(1)}`);
const floor = percentile(times["node -e \"require('@grpc/grpc-js')\""], 50);
for (const [name, t] of Object.entries(times)) {
  const p50 = percentile(t, 50);
  console.log(`${name.padEnd(40)} p50 ${p50.toFixed(0).padStart(5)} ms   p90 ${percentile(t, 90).toFixed(0).padStart(5)} ms   ${(p50 / floor).toFixed(2)}x grpc-js's load`);
}
