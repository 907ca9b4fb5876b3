import { readFileSync } from 'node:fs';
import { credentials, makeGenericClientConstructor, Metadata } from '@grpc/grpc-js';
import { measure } from './stats';

/**
 * A load generator in its own process, so the client's work is not the
 * measured server's and does not slow its floor: it reads requests already
 * serialized (a file of u32-length-prefixed messages), sends each once to
 * one unary method with `concurrency` in flight over `channels` channels,
 * and prints the rate and latencies as one JSON line.
 *   node load-gen.js <address> <method path> <requests file> <concurrency> <channels>
 */
const [address, method, file, concurrency = '32', channels = '4'] = process.argv.slice(2);

const requests: Buffer[] = [];
const all = readFileSync(file);
for (let at = 0; at < all.length; ) {
  const n = all.readUInt32BE(at);
  requests.push(all.subarray(at + 4, at + 4 + n));
  at += 4 + n;
}
const raw = (b: Buffer) => b;
const Client = makeGenericClientConstructor(
  { call: { path: method, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw } },
  'Bench',
);
type Raw = { call: (b: Buffer, md: Metadata, o: object, cb: (e: Error | null) => void) => void };
const clients = Array.from({ length: Number(channels) }, () => new Client(address, credentials.createInsecure()) as unknown as Raw);

const main = async () => {
  let errors = 0;
  let firstError = '';
  const r = await measure(requests.length, Number(concurrency), (i) =>
    new Promise<void>((resolve) =>
      clients[i % clients.length].call(requests[i], new Metadata(), {}, (e) => {
        if (e) {
          errors++;
          firstError ||= e.message;
        }
        resolve();
      }),
    ),
  );
  process.stdout.write(`${JSON.stringify({ ...r, errors, firstError })}\n`);
  process.exit(0);
};
void main();
