import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type MethodDefinition, type Server, type ServerDuplexStream, type ServiceDefinition, status, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

/** src/gen/descriptors.binpb, written by scripts/gen-proto.sh with `buf build`. */
export const DESCRIPTOR_SET = path.join(__dirname, '..', '..', '..', 'src', 'gen', 'descriptors.binpb');

/** The two versions of the reflection protocol clients speak (grpcurl and buf curl try v1, then v1alpha). */
export const REFLECTION_SERVICES = ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'] as const;

/** The serialized FileDescriptorProtos of a FileDescriptorSet (field 1, repeated). */
const fileDescriptors = (set: Uint8Array): Uint8Array[] => {
  const r = new BinaryReader(set);
  const files: Uint8Array[] = [];
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === WireType.LengthDelimited) files.push(r.bytes());
    else r.skip(wire);
  }
  return files;
};

type Untyped = MethodDefinition<unknown, unknown>;
type Handler = (stream: EventEmitter & { write(m: unknown): void; end(): void }) => void;
interface Version {
  readonly method: Untyped;
  readonly handler: Handler;
}

/**
 * Makes the library's implementation of both versions, keeping what it would register:
 * the method (its codecs) and the handler, by service name.
 */
const implementations = (services: readonly string[], files: Uint8Array[]): Map<string, Version> => {
  // ReflectionService indexes whatever fileDescriptorProtos it is handed.
  const root = { all: { fileDescriptorProtos: files } };
  const made = new Map<string, Version>();
  const keeper = {
    addService: (service: ServiceDefinition, impl: UntypedServiceImplementation) => {
      const method = service.ServerReflectionInfo as Untyped;
      made.set(method.path.split('/')[1], { method, handler: impl.ServerReflectionInfo as unknown as Handler });
    },
  };
  // Only the services this process serves are listed.
  new ReflectionService(root as never, { services: [...services] }).addToServer(keeper as unknown as Server);
  return made;
};

const passThrough = (b: unknown) => b;

/**
 * Server reflection answering with complete file descriptors and their
 * imports (google/protobuf/*.proto included), taken from the image that
 * `buf build` wrote, so grpcurl and `buf curl` can resolve every type.
 *
 * The library's implementation parses its own .proto files and indexes ours
 * when made: a tenth of a second or more of a start that no request may need.
 * So the services are registered with bytes in and out, and the implementation
 * is made at the first reflection call; its codecs then turn the bytes into
 * its messages and back, and its handler answers as it would have.
 */
export const addReflection = (server: Server, services: readonly string[], descriptorSet = DESCRIPTOR_SET): void => {
  // Read now: a missing or unreadable image fails the start, not a client's first call.
  const files = fileDescriptors(readFileSync(descriptorSet));
  let made: Map<string, Version> | undefined;
  for (const name of REFLECTION_SERVICES) {
    const method: Untyped = {
      path: `/${name}/ServerReflectionInfo`,
      requestStream: true,
      responseStream: true,
      requestSerialize: passThrough as never,
      requestDeserialize: passThrough,
      responseSerialize: passThrough as never,
      responseDeserialize: passThrough,
    };
    server.addService({ ServerReflectionInfo: method }, {
      ServerReflectionInfo: (call: ServerDuplexStream<Buffer, Buffer>) => {
        let version: Version;
        try {
          version = (made ??= implementations(services, files)).get(name)!;
        } catch (e) {
          call.emit('error', { code: status.INTERNAL, details: `server reflection: ${(e as Error).message}` });
          return;
        }
        version.handler(bridge(call, version.method));
      },
    });
  }
};

/**
 * The call as the library's handler sees it: its messages, not bytes. A request
 * that cannot be read, or an answer that cannot be written, ends the call with
 * INTERNAL as grpc-js ends one whose codec fails, never with an exception out of
 * the stream's event.
 */
const bridge = (call: ServerDuplexStream<Buffer, Buffer>, method: Untyped) => {
  let failed = false;
  const fail = (what: string, e: unknown) => {
    failed = true;
    call.emit('error', { code: status.INTERNAL, details: `Error ${what}: ${(e as Error).message}` });
  };
  const stream = Object.assign(new EventEmitter(), {
    write: (m: unknown) => {
      let bytes: Buffer;
      try {
        bytes = method.responseSerialize(m);
      } catch (e) {
        return fail('serializing response', e);
      }
      if (!failed) call.write(bytes);
    },
    end: () => failed || call.end(),
  });
  call.on('data', (b: Buffer) => {
    if (failed) return;
    let request: unknown;
    try {
      request = method.requestDeserialize(b);
    } catch (e) {
      return fail('deserializing request', e);
    }
    stream.emit('data', request);
  });
  call.on('end', () => failed || stream.emit('end'));
  return stream;
};

/** The standard health service (proto/grpc/health/v1, vendored, so the buf image describes it), as reflection lists it. */
export const HEALTH_SERVICE = 'grpc.health.v1.Health';
