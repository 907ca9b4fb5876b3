import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Server } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

/** src/gen/descriptors.binpb, written by scripts/gen-proto.sh with `buf build`. */
export const DESCRIPTOR_SET = path.join(__dirname, '..', '..', '..', 'src', 'gen', 'descriptors.binpb');

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

/**
 * Server reflection answering with complete file descriptors and their
 * imports (google/protobuf/*.proto included), taken from the image that
 * `buf build` wrote, so grpcurl and `buf curl` can resolve every type.
 */
export const addReflection = (server: Server, services: readonly string[], descriptorSet = DESCRIPTOR_SET): void => {
  const files = fileDescriptors(readFileSync(descriptorSet));
  // ReflectionService indexes whatever fileDescriptorProtos it is handed.
  const root = { all: { fileDescriptorProtos: files } };
  // Only the services this process serves are listed.
  new ReflectionService(root as never, { services: [...services] }).addToServer(server);
};

/** The standard health service (proto/grpc/health/v1, vendored, so the buf image describes it), as reflection lists it. */
export const HEALTH_SERVICE = 'grpc.health.v1.Health';
