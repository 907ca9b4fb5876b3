import { InstanceState as InstanceStateEnum, InstanceType } from '../../gen/hypervisor/v1/common';
import type { Instance, InstanceSpec } from '../../gen/hypervisor/v1/compute';
import type { InstanceKind } from '../../domain/instance-types';
import type { InstanceSpecData } from '../../commands/instance/spec';
import type { InstanceState, InstanceStatus } from '../../commands/instance/state';
import { fromInt64, toInt64 } from '../int64';

const LIMIT_KEYS = [
  ['cpuQuota', 'cpu_quota'],
  ['cpuPeriod', 'cpu_period'],
  ['memoryLimit', 'memory_limit'],
  ['memorySwap', 'memory_swap'],
  ['ioReadBps', 'io_read_bps'],
  ['ioWriteBps', 'io_write_bps'],
] as const;

export const KIND_TO_PROTO: Record<InstanceKind, InstanceType> = {
  vm: InstanceType.INSTANCE_TYPE_VM,
  microvm: InstanceType.INSTANCE_TYPE_MICROVM,
  container: InstanceType.INSTANCE_TYPE_CONTAINER,
};
export const STATUS_TO_PROTO: Record<InstanceStatus, InstanceStateEnum> = {
  PENDING: InstanceStateEnum.INSTANCE_STATE_PENDING,
  CREATING: InstanceStateEnum.INSTANCE_STATE_CREATING,
  RUNNING: InstanceStateEnum.INSTANCE_STATE_RUNNING,
  STOPPED: InstanceStateEnum.INSTANCE_STATE_STOPPED,
  FAILED: InstanceStateEnum.INSTANCE_STATE_FAILED,
  DELETING: InstanceStateEnum.INSTANCE_STATE_DELETING,
};

export const kindFromProto = (t: InstanceType): InstanceKind | undefined =>
  (Object.keys(KIND_TO_PROTO) as InstanceKind[]).find((k) => KIND_TO_PROTO[k] === t);
export const statusFromProto = (v: InstanceStateEnum): InstanceStatus | undefined =>
  (Object.keys(STATUS_TO_PROTO) as InstanceStatus[]).find((k) => STATUS_TO_PROTO[k] === v);

export const toSpec = (s: InstanceSpecData): InstanceSpec => ({
  image: s.image,
  cpuCores: s.cpuCores,
  memoryBytes: toInt64(s.memoryBytes),
  disks: s.disks.map((d) => ({ ...d, sizeBytes: toInt64(d.sizeBytes) })),
  network: s.network ? { ...s.network, securityGroups: [...s.network.securityGroups] } : undefined,
  kernel: s.kernel,
  initrd: s.initrd,
  kernelArgs: s.kernelArgs,
  command: s.command,
  args: s.args,
  env: s.env,
  volumeMounts: s.volumeMounts,
  limits: s.limits
    ? (Object.fromEntries(LIMIT_KEYS.map(([k]) => [k, toInt64(s.limits![k])])) as unknown as InstanceSpec['limits'])
    : undefined,
});

/** InstanceSpec from the wire as plain data (a network only when it names one). */
export const specFromProto = (s: InstanceSpec): InstanceSpecData => ({
  image: s.image,
  cpuCores: s.cpuCores,
  memoryBytes: fromInt64(s.memoryBytes, 'spec.memory_bytes', BigInt(Number.MIN_SAFE_INTEGER)),
  disks: s.disks.map((x, i) => ({ name: x.name, sizeBytes: fromInt64(x.sizeBytes, `spec.disks[${i}].size_bytes`, BigInt(Number.MIN_SAFE_INTEGER)), type: x.type, boot: x.boot })),
  ...(s.network && (s.network.networkId || s.network.subnetId)
    ? { network: { networkId: s.network.networkId, subnetId: s.network.subnetId, securityGroups: [...s.network.securityGroups], assignPublicIp: s.network.assignPublicIp } }
    : {}),
  kernel: s.kernel,
  initrd: s.initrd,
  kernelArgs: s.kernelArgs,
  command: [...s.command],
  args: [...s.args],
  env: { ...s.env },
  volumeMounts: s.volumeMounts.map((v) => ({ name: v.name, mountPath: v.mountPath, readOnly: v.readOnly })),
  ...(s.limits
    ? { limits: Object.fromEntries(LIMIT_KEYS.map(([k, f]) => [k, fromInt64(s.limits![k], `spec.limits.${f}`, BigInt(Number.MIN_SAFE_INTEGER))])) as unknown as NonNullable<InstanceSpecData['limits']> }
    : {}),
});

/** What a RUNNING instance's state_reason says once its guest's cloud-init phoned home (the web console shows it under the state). */
export const FIRST_BOOT_DONE = 'first boot done';

/** The Instance message; undefined before it was requested and once it is deleted. */
export const toInstance = (s: InstanceState): Instance | undefined =>
  s.exists
    ? {
        id: s.id,
        name: s.name!,
        type: KIND_TO_PROTO[s.kind!],
        state: STATUS_TO_PROTO[s.status],
        spec: toSpec(s.spec!),
        nodeId: s.nodeId,
        ipAddress: s.network?.ipAddress ?? '',
        metadata: { labels: s.labels ?? {}, annotations: s.annotations ?? {} },
        stateReason: s.reason || (s.status === 'RUNNING' && s.guestBootedAt ? `${FIRST_BOOT_DONE} (cloud-init phoned home at ${s.guestBootedAt})` : ''),
        createdAt: s.createdAt,
        startedAt: s.status === 'RUNNING' || s.status === 'STOPPED' || s.status === 'DELETING' ? s.startedAt : undefined,
      }
    : undefined;
