#!/usr/bin/env node
// Usage meter: running instance-seconds per label, from the integration feed.
//   node dist/examples/usage-meter/main.js --nats-url nats://127.0.0.1:4222 [--every 10]
import { Command } from 'commander';
import { connect } from 'nats';
import { UsageMeter } from './consumer';
import { report } from './meter';

const o = new Command('usage-meter')
  .option('--nats-url <url>', 'NATS of the control plane', process.env.HV_NATS_URL ?? 'nats://127.0.0.1:4222')
  .option('--every <seconds>', 'print the totals this often', '10')
  .parse()
  .opts();

const main = async () => {
  const nc = await connect({ servers: o.natsUrl });
  const meter = (await UsageMeter.open(nc)).start();
  const print = () => {
    const totals = Object.entries(report(meter.state, Date.now())).sort(([a], [b]) => a.localeCompare(b));
    console.log(new Date().toISOString(), `revision ${meter.state.revision}`);
    for (const [label, s] of totals) console.log(`  ${label.padEnd(40)} ${s.toFixed(0).padStart(12)} instance-seconds`);
  };
  const timer = setInterval(print, Number(o.every) * 1000);
  process.on('SIGINT', async () => {
    clearInterval(timer);
    await meter.stop();
    print();
    await nc.drain();
  });
};

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
