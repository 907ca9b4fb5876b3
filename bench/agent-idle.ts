import { readFileSync } from 'node:fs';
import { readProcStat } from '../src/shared/proc-stat';
import { DataplaneLab } from '../test/dataplane/support';

/**
 * What an agent costs its host while nothing changes: one namespace host, a VXLAN network
 * with DHCP and a VM on it (TCG), settled; then the agent's CPU over a window, its own and
 * that of the processes it ran and reaped (ip, nft, runc, ...), at the interval the tests use
 * (reconcile 500 ms, data plane 1 s) and at the defaults (2 s, 5 s). There is no floor: an
 * idle agent should cost nothing, and what it costs comes out of the guests' CPU.
 * BENCH_SECONDS sets the window (default 30).
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);

/** The agent's CPU and its reaped commands' (ms) so far. */
const cpu = (pid: number) => {
  const s = readProcStat(pid);
  if (!s) throw new Error(`the agent (pid ${pid}) is gone`);
  return { own: s.cpuTimeNs / 1e6, children: s.childrenCpuTimeNs / 1e6 };
};

const window = async (label: string, env: Record<string, string>) => {
  const t = await new DataplaneLab().start(1, { agentEnv: env });
  try {
    const { network, subnet } = await t.network('idle', '198.18.64.0/24', 1450);
    const vm = await t.vm('idle-vm', 0, network.id, subnet.id);
    await t.lease(await t.console(vm.id));
    const pid = t.agents[0].child!.pid!;
    const a = cpu(pid);
    const started = Date.now();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const b = cpu(pid);
    const s = (Date.now() - started) / 1000;
    const own = (b.own - a.own) / s;
    const children = (b.children - a.children) / s;
    console.log(`${label.padEnd(44)} agent ${own.toFixed(1).padStart(6)} ms/s, its commands ${children.toFixed(1).padStart(6)} ms/s, in all ${(own + children).toFixed(1).padStart(6)} ms of CPU a second (${((own + children) / 10).toFixed(1)}% of a core)`);
  } finally {
    await t.stop();
  }
};

const main = async () => {
  console.log(`one namespace host, one VXLAN network with DHCP, one VM settled; ${SECONDS} s window; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  await window("tests' intervals (reconcile 0.5 s, network 1 s)", { HV_AGENT_RECONCILE_MS: '500', HV_AGENT_NETWORK_MS: '1000' });
  await window('defaults (reconcile 2 s, network 5 s)', { HV_AGENT_RECONCILE_MS: '2000', HV_AGENT_NETWORK_MS: '5000' });
};

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
