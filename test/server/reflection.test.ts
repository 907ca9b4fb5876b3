import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { credentials, makeGenericClientConstructor, Server, ServerCredentials, status } from '@grpc/grpc-js';
import { addReflection, DESCRIPTOR_SET, HEALTH_SERVICE, REFLECTION_SERVICES } from '../../src/grpc/reflection';

/**
 * Server reflection on a real grpc-js server and client, both versions, spoken
 * with the protocol's own field numbers (grpc/reflection/v1/reflection.proto):
 * the library's implementation is made at the first call, behind codecs of bytes.
 */
const request = (r: { listServices?: string; fileContainingSymbol?: string }): Buffer => {
  const w = new BinaryWriter();
  if (r.fileContainingSymbol !== undefined) w.tag(4, WireType.LengthDelimited).string(r.fileContainingSymbol);
  if (r.listServices !== undefined) w.tag(7, WireType.LengthDelimited).string(r.listServices);
  return Buffer.from(w.finish());
};

/** The fields of one message: number → each length-delimited value (other wire types skipped). */
const fields = (bytes: Uint8Array): Map<number, Uint8Array[]> => {
  const r = new BinaryReader(bytes);
  const out = new Map<number, Uint8Array[]>();
  while (r.pos < r.len) {
    const [n, wire] = r.tag();
    if (wire !== WireType.LengthDelimited) {
      r.skip(wire);
      continue;
    }
    out.set(n, [...(out.get(n) ?? []), r.bytes()]);
  }
  return out;
};
const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

interface Answer {
  services: string[];
  /** file_descriptor_response: each file's name (FileDescriptorProto field 1). */
  files: string[];
  error?: string;
}
const answer = (bytes: Buffer): Answer => {
  const f = fields(bytes);
  const list = f.get(6)?.[0];
  const descriptors = f.get(4)?.[0];
  const error = f.get(7)?.[0];
  return {
    services: list ? (fields(list).get(1) ?? []).map((s) => text(fields(s).get(1)![0])) : [],
    files: descriptors ? (fields(descriptors).get(1) ?? []).map((d) => text(fields(d).get(1)![0])) : [],
    error: error ? text(fields(error).get(2)?.[0] ?? new Uint8Array()) : undefined,
  };
};

type Stream = NodeJS.EventEmitter & { write(b: Buffer): void; end(): void };
const client = (address: string, service: string) => {
  const bytes = (b: Buffer) => b;
  const Client = makeGenericClientConstructor(
    { info: { path: `/${service}/ServerReflectionInfo`, requestStream: true, responseStream: true, requestSerialize: bytes, requestDeserialize: bytes, responseSerialize: bytes, responseDeserialize: bytes } },
    service,
  );
  return new Client(address, credentials.createInsecure()) as unknown as { info(): Stream; close(): void };
};

/** Sends each request on one stream and collects the answers in order. */
const ask = (address: string, service: string, requests: Buffer[]): Promise<Answer[]> => {
  const c = client(address, service);
  const call = c.info();
  const answers: Answer[] = [];
  return new Promise<Answer[]>((resolve, reject) => {
    call.on('data', (b: Buffer) => answers.push(answer(b)));
    call.on('error', reject);
    call.on('end', () => resolve(answers));
    for (const r of requests) call.write(r);
    call.end();
  }).finally(() => c.close());
};

describe('server reflection (real grpc-js server and client)', () => {
  const server = new Server();
  let address = '';
  before(async () => {
    addReflection(server, ['hypervisor.v1.ClusterService', HEALTH_SERVICE]);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    address = `127.0.0.1:${port}`;
  });
  after(() => server.forceShutdown());

  for (const service of REFLECTION_SERVICES)
    it(`answers ${service}: the services served, and a symbol's file with its imports`, async () => {
      const [listed, found, missing] = await ask(address, service, [
        request({ listServices: '*' }),
        request({ fileContainingSymbol: 'hypervisor.v1.ClusterService' }),
        request({ fileContainingSymbol: 'hypervisor.v1.NoSuchService' }),
      ]);
      assert.deepEqual(listed.services.sort(), ['grpc.health.v1.Health', 'hypervisor.v1.ClusterService']);
      assert.ok(found.files.includes('hypervisor/v1/cluster.proto'), `files: ${found.files.join(', ')}`);
      assert.ok(found.files.includes('google/protobuf/timestamp.proto'), 'its imports come with it');
      assert.match(missing.error ?? '', /NoSuchService/);
    });

  it('answers on several streams at once, each its own', async () => {
    const answers = await Promise.all(REFLECTION_SERVICES.flatMap((s) => [ask(address, s, [request({ listServices: '*' })]), ask(address, s, [])]));
    assert.deepEqual(
      answers.map((a) => a.length),
      [1, 0, 1, 0],
    );
  });

  it('ends a call whose bytes are no request with INTERNAL, as grpc-js does, and goes on answering', async () => {
    // A key of field 7 with wire type 7 (there is none), then a varint that never ends.
    const torn = Buffer.from([0x3f, 0xff, 0xff, 0xff]);
    for (const service of REFLECTION_SERVICES) {
      const err = await ask(address, service, [torn]).then(
        () => assert.fail('answered'),
        (e: { code: number; details: string }) => e,
      );
      assert.equal(err.code, status.INTERNAL, service);
      assert.match(err.details, /deserializing request/);
      const [listed] = await ask(address, service, [request({ listServices: '*' })]);
      assert.deepEqual(listed.services.sort(), ['grpc.health.v1.Health', 'hypervisor.v1.ClusterService']);
    }
  });

  it('fails at start, not at a client\'s first call, when the descriptor image cannot be read', () => {
    assert.throws(() => addReflection(new Server(), [], `${DESCRIPTOR_SET}.missing`), /ENOENT/);
  });

  it('answers every call with INTERNAL when the image cannot be indexed, and the server goes on answering', async () => {
    const broken = new Server();
    // A FileDescriptorSet whose one file is not a FileDescriptorProto.
    const w = new BinaryWriter();
    w.tag(1, WireType.LengthDelimited).bytes(Buffer.from([0xff, 0xff, 0xff]));
    const file = `${DESCRIPTOR_SET}.broken-${process.pid}`;
    writeFileSync(file, w.finish());
    try {
      addReflection(broken, ['x.Y'], file);
    } finally {
      rmSync(file);
    }
    const port = await new Promise<number>((resolve, reject) => broken.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    try {
      for (const service of [...REFLECTION_SERVICES, REFLECTION_SERVICES[0]]) {
        const err = await ask(`127.0.0.1:${port}`, service, [request({ listServices: '*' })]).then(
          () => assert.fail('answered'),
          (e: { code: number; details: string }) => e,
        );
        assert.equal(err.code, status.INTERNAL, service);
        assert.match(err.details, /server reflection/);
      }
    } finally {
      broken.forceShutdown();
    }
  });
});
