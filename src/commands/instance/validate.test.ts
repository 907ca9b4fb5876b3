import assert from 'node:assert/strict';
import { InvalidArgument } from '../../errors';
import type { InstanceSpecData } from './spec';
import { validateSpec } from './validate';

const MiB = 2 ** 20;
const container = (over: Partial<InstanceSpecData> = {}): InstanceSpecData => ({
  image: 'oci://r.example/app:1',
  cpuCores: 1,
  memoryBytes: 64 * MiB,
  disks: [],
  kernel: '',
  initrd: '',
  kernelArgs: '',
  command: [],
  args: [],
  env: {},
  volumeMounts: [],
  ...over,
});
const limits = (over = {}) => ({ cpuQuota: 0, cpuPeriod: 0, memoryLimit: 0, memorySwap: 0, ioReadBps: 0, ioWriteBps: 0, ...over });

describe('container spec validation', () => {
  it('accepts a container with command, env, volumes and limits', () =>
    validateSpec('container', container({ command: ['/bin/sh'], env: { A_1: 'x' }, volumeMounts: [{ name: 'data', mountPath: '/data', readOnly: true }], limits: limits({ cpuQuota: 50_000, memoryLimit: 32 * MiB, memorySwap: 64 * MiB }) })));
  for (const [what, spec, field] of [
    ['disks', container({ disks: [{ name: 'd', sizeBytes: MiB, type: 'qcow2', boot: false }] }), /^spec.disks: .*volume_mounts/],
    ['an env name that is no variable', container({ env: { 'A-B': 'x' } }), /^spec.env: "A-B"/],
    ['a volume name with ..', container({ volumeMounts: [{ name: '..', mountPath: '/d', readOnly: false }] }), /^spec.volume_mounts\[0\].name/],
    ['a negative limit', container({ limits: limits({ ioReadBps: -1 }) }), /^spec.limits.io_read_bps/],
    ['a CPU period out of range', container({ limits: limits({ cpuPeriod: 10 }) }), /^spec.limits.cpu_period/],
    ['swap below the memory limit', container({ limits: limits({ memoryLimit: 64 * MiB, memorySwap: 32 * MiB }) }), /^spec.limits.memory_swap/],
    ['a kernel', container({ kernel: 'vmlinuz' }), /^spec.kernel/],
  ] as const)
    it(`refuses ${what}, naming the field`, () => assert.throws(() => validateSpec('container', spec), (e: Error) => e instanceof InvalidArgument && field.test(e.message)));
});
