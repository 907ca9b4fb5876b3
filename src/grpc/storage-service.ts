import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { StorageServiceServer } from '../gen/hypervisor/v1/storage';
import { attachmentMethods } from './storage/attachments';
import type { StorageServiceDeps } from './storage/context';
import { snapshotMethods } from './storage/snapshots';
import { volumeMethods } from './storage/volumes';

export type { StorageServiceDeps } from './storage/context';

/**
 * StorageService: all 13 methods. Each validates its request (INVALID_ARGUMENT
 * naming the field), places and holds storage where it needs to (the node's
 * own stream keeps that exact), sends its command, and answers from the read
 * models. One file per family in ./storage.
 */
export const storageService = (d: StorageServiceDeps): StorageServiceServer & UntypedServiceImplementation => ({
  ...volumeMethods(d),
  ...attachmentMethods(d),
  ...snapshotMethods(d),
});
