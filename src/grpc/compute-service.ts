import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { ComputeServiceServer } from '../gen/hypervisor/v1/compute';
import { consoleMethods } from './compute/console';
import type { ComputeServiceDeps } from './compute/context';
import { imageMethods } from './compute/images';
import { instanceMethods } from './compute/instances';
import { migrateMethods } from './compute/migrate';

export type { ComputeServiceDeps } from './compute/context';

/**
 * ComputeService: instances (create, lifecycle, stats, watch), the serial
 * console, images and moves between nodes. Each method validates its request (INVALID_ARGUMENT
 * naming the field), sends its command, and answers from the read models.
 * One file per job in ./compute.
 */
export const computeService = (d: ComputeServiceDeps): ComputeServiceServer & UntypedServiceImplementation => ({
  ...instanceMethods(d),
  ...consoleMethods(d),
  ...imageMethods(d),
  ...migrateMethods(d),
});
