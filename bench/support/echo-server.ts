import { fstatSync } from 'node:fs';
import { Server, ServerCredentials } from '@grpc/grpc-js';

// The floor under our unary calls: a grpc-js server that echoes bytes back,
// in its own process like ours. Prints its port.
const server = new Server();
const id = (b: Buffer) => b;
server.addService(
  { echo: { path: '/bench.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
  { echo: (call: { request: Buffer }, cb: (e: null, r: Buffer) => void) => cb(null, call.request) },
);
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, port) => {
  if (e) throw e;
  process.stdout.write(`${port}\n`);
});

// Started with a pipe on stdin (bench/lists-grpc, bench/writes): end with the
// parent, even when it dies without stopping us.
if (fstatSync(0).isFIFO()) process.stdin.on('end', () => process.exit(0)).resume();
