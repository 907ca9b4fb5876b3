import { parseArgs } from 'node:util';
import { metadataServer } from './server';

/**
 * One subnet's metadata service, started by the agent inside the subnet's DHCP
 * namespace (`nsenter --net=… node server-main.js …`, metadata-servers.ts). It runs
 * detached, outliving the agent as dnsmasq does; a log line per request on stdout.
 */
const { values } = parseArgs({
  options: {
    subnet: { type: 'string' },
    guests: { type: 'string' },
    'phone-home': { type: 'string' },
    listen: { type: 'string', default: '169.254.169.254' },
    port: { type: 'string', default: '80' },
  },
});
if (!values.subnet || !values.guests || !values['phone-home']) {
  console.error('usage: server-main --subnet <id> --guests <dir> --phone-home <dir> [--listen <ip>] [--port <n>]');
  process.exit(2);
}
const server = metadataServer({ subnetId: values.subnet, guestsDir: values.guests, phoneHomeDir: values['phone-home'] }, (line) =>
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...line })}\n`),
);
server.on('error', (e) => {
  console.error(`metadata service for subnet ${values.subnet}: ${e.message}`);
  process.exit(1);
});
server.listen(Number(values.port), values.listen, () => process.stdout.write(`${JSON.stringify({ listening: `${values.listen}:${values.port}`, subnetId: values.subnet })}\n`));
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => server.close(() => process.exit(0)));
