import path from 'node:path';
import pino from 'pino';
import { Agent } from '../../src/agent/agent';
import { defaultAgentConfig } from '../../src/agent/config';

/**
 * N hollow agents in one process (the bench's simulated nodes), kept apart
 * from the process that measures: `node hollow-fleet.js <server> <natsUrl> <count> <stateRoot>`.
 * Prints "ready <seconds>" once all registered; SIGTERM stops them.
 */
const [server, natsUrl, countArg, stateRoot] = process.argv.slice(2);
const count = Number(countArg);
const log = pino({ level: process.env.HV_FLEET_LOG ?? 'silent' });

const main = async () => {
  const t0 = performance.now();
  const agents: Agent[] = [];
  for (let i = 0; i < count; i += 50)
    agents.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(50, count - i) }, (_, k) =>
          new Agent(
            {
              ...defaultAgentConfig(),
              server,
              natsUrl,
              stateDir: path.join(stateRoot, `n${i + k}`),
              hostname: `hollow-${i + k}`,
              advertiseIp: '127.0.0.1',
              listenHost: '127.0.0.1',
              port: 0,
              zone: `z${(i + k) % 10}`,
              capacity: { cpuCores: 32, memoryBytes: 128 * 2 ** 30, diskBytes: 2 ** 40 },
              reconcileIntervalMs: 30_000,
              workConcurrency: 8,
              // The bench's image server is on loopback.
              imageAllowCidrs: ['127.0.0.0/8'],
            },
            { kinds: ['hollow'], hollow: { supports: ['vm', 'microvm'] } },
            log,
          ).start(),
        ),
      )),
    );
  console.log(`ready ${((performance.now() - t0) / 1000).toFixed(1)}`);
  process.on('SIGTERM', async () => {
    for (let i = 0; i < agents.length; i += 100) await Promise.all(agents.slice(i, i + 100).map((a) => a.stop()));
    process.exit(0);
  });
};
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
