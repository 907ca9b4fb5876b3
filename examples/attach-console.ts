#!/usr/bin/env node
/**
 * An interactive serial console through ComputeService.AttachConsole:
 *   node dist/examples/attach-console.js <instance-id> [server, default 127.0.0.1:50051]
 * Keystrokes go to the guest as typed (raw mode); Ctrl-] leaves. You first
 * see the guest's recent output, then live output.
 */
import { credentials } from '@grpc/grpc-js';
import { ComputeServiceClient, type ConsoleData } from '../src/gen/hypervisor/v1/compute';

const [instanceId, server = '127.0.0.1:50051'] = process.argv.slice(2);
if (!instanceId) {
  console.error('usage: attach-console <instance-id> [host:port]');
  process.exit(2);
}
const client = new ComputeServiceClient(server, credentials.createInsecure());
const call = client.attachConsole();
const size = () => ({ width: process.stdout.columns ?? 80, height: process.stdout.rows ?? 24 });
call.write({ instanceId, tty: process.stdin.isTTY === true, ...size(), data: Buffer.alloc(0) });
call.on('data', (d: ConsoleData) => process.stdout.write(d.data));
const leave = (code: number) => {
  if (process.stdin.isTTY) process.stdin.setRawMode(false);
  process.stdout.write('\r\n');
  process.exit(code);
};
call.on('end', () => leave(0));
call.on('error', (e: Error & { details?: string }) => {
  if (process.stdin.isTTY) process.stdin.setRawMode(false);
  console.error(`\r\nconsole: ${e.details ?? e.message}`);
  process.exit(1);
});
if (process.stdin.isTTY) {
  process.stdin.setRawMode(true);
  process.stderr.write('(attached; Ctrl-] leaves)\r\n');
}
process.stdin.on('data', (b: Buffer) => {
  if (b.includes(0x1d)) return call.end();
  call.write({ instanceId: '', tty: true, width: 0, height: 0, data: b });
});
process.stdin.on('end', () => setTimeout(() => call.end(), 500));
process.stdout.on('resize', () => call.write({ instanceId: '', tty: true, ...size(), data: Buffer.alloc(0) }));
