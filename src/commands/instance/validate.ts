import type { InstanceKind } from '../../domain/instance-types';
import type { Resources } from '../../domain/resources';
import { optionalTopology, requireLabels } from '../../domain/validate';
import { validateTty } from '../../domain/console-tty';
import { validateRestartPolicy } from '../../domain/restart-policy';
import { MULTI_LINE_ANNOTATIONS, validateGuestAnnotations } from '../../domain/guest-annotations';
import { validateVolumeMounts } from '../../domain/volume-mounts';
import { InvalidArgument } from '../../errors';
import type { InstanceRequest, InstanceSpecData, ResolvedImages } from './spec';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const DISK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MiB = 2 ** 20;
export const LIMITS = {
  maxCpuCores: 256,
  minVmMemoryBytes: 32 * MiB,
  minContainerMemoryBytes: 4 * MiB,
  maxMemoryBytes: 4 * 2 ** 40,
  maxDisks: 16,
  maxKernelArgs: 4096,
};

/** Everything CreateInstance needs that does not depend on state; each error names its field. */
export const validateRequest = (r: Pick<InstanceRequest, 'name' | 'kind' | 'spec' | 'labels' | 'annotations' | 'placement'>): void => {
  if (!r.name) throw new InvalidArgument('name: is required');
  if (!NAME.test(r.name)) throw new InvalidArgument(`name: "${r.name.slice(0, 80)}" must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  validateSpec(r.kind, r.spec);
  requireLabels('metadata.labels', r.labels);
  requireLabels('metadata.annotations', r.annotations, MULTI_LINE_ANNOTATIONS);
  validateRestartPolicy(r.annotations);
  validateTty(r.kind, r.annotations);
  validateGuestAnnotations(r.kind, r.annotations);
  optionalTopology('region', r.placement.region);
  optionalTopology('zone', r.placement.zone);
};

export const validateSpec = (kind: InstanceKind, s: InstanceSpecData): void => {
  if (!Number.isInteger(s.cpuCores) || s.cpuCores < 1) throw new InvalidArgument(`spec.cpu_cores: ${s.cpuCores}; give at least 1`);
  if (s.cpuCores > LIMITS.maxCpuCores) throw new InvalidArgument(`spec.cpu_cores: ${s.cpuCores} is more than ${LIMITS.maxCpuCores}`);
  const minMem = kind === 'container' ? LIMITS.minContainerMemoryBytes : LIMITS.minVmMemoryBytes;
  if (!Number.isSafeInteger(s.memoryBytes) || s.memoryBytes < minMem)
    throw new InvalidArgument(`spec.memory_bytes: ${s.memoryBytes}; a ${kind} needs at least ${minMem / MiB} MiB`);
  if (s.memoryBytes > LIMITS.maxMemoryBytes) throw new InvalidArgument(`spec.memory_bytes: ${s.memoryBytes} is more than 4 TiB`);

  if (s.disks.length > LIMITS.maxDisks) throw new InvalidArgument(`spec.disks: ${s.disks.length} disks, at most ${LIMITS.maxDisks}`);
  const names = new Set<string>();
  let boots = 0;
  s.disks.forEach((d, i) => {
    const f = `spec.disks[${i}]`;
    if (!d.name) throw new InvalidArgument(`${f}.name: is required`);
    if (!DISK_NAME.test(d.name)) throw new InvalidArgument(`${f}.name: "${d.name.slice(0, 80)}" must be 1-64 letters, digits, '.', '_' or '-'`);
    if (names.has(d.name)) throw new InvalidArgument(`${f}.name: "${d.name}" is used twice`);
    names.add(d.name);
    if (!Number.isSafeInteger(d.sizeBytes) || d.sizeBytes < 0) throw new InvalidArgument(`${f}.size_bytes: ${d.sizeBytes} is negative`);
    if (d.boot) boots++;
    // The boot disk of an instance with an image is a copy of it (0 = the image's size); any other disk starts blank.
    const fromImage = d.boot && !!s.image;
    if (!fromImage && d.sizeBytes === 0)
      throw new InvalidArgument(`${f}.size_bytes: a blank disk needs a size${d.boot ? ' (or give spec.image to boot from)' : ''}`);
  });
  if (boots > 1) throw new InvalidArgument('spec.disks: at most one disk can have boot set');

  if (s.kernelArgs.length > LIMITS.maxKernelArgs) throw new InvalidArgument(`spec.kernel_args: longer than ${LIMITS.maxKernelArgs} characters`);
  if (/[\n\r\0]/.test(s.kernelArgs)) throw new InvalidArgument('spec.kernel_args: must be one line');
  if (s.initrd && !s.kernel) throw new InvalidArgument('spec.initrd: needs spec.kernel (an initrd is loaded with a kernel)');
  if (s.kernelArgs && !s.kernel) throw new InvalidArgument('spec.kernel_args: needs spec.kernel');

  if (kind === 'container') {
    if (!s.image) throw new InvalidArgument('spec.image: a container needs an image');
    if (s.kernel || s.initrd) throw new InvalidArgument('spec.kernel: containers share the host kernel; leave kernel and initrd empty');
    if (s.disks.length > 0) throw new InvalidArgument('spec.disks: a container has its image and volumes, no disks; use spec.volume_mounts');
    validateContainer(s);
    return;
  }
  for (const [field, v] of [['command', s.command.length], ['args', s.args.length], ['env', Object.keys(s.env).length], ['volume_mounts', s.volumeMounts.length]] as const)
    if (v > 0) throw new InvalidArgument(`spec.${field}: only for container instances`);
  if (kind === 'microvm' && !s.kernel) throw new InvalidArgument('spec.kernel: a microvm has no firmware and boots a kernel directly; give spec.kernel');
  if (kind === 'vm' && !s.image && !s.kernel) throw new InvalidArgument('spec.image: nothing to boot; give spec.image (a disk image) or spec.kernel');
};

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

const validateContainer = (s: InstanceSpecData): void => {
  s.command.forEach((a, i) => {
    if (a.includes('\0')) throw new InvalidArgument(`spec.command[${i}]: must not hold NUL`);
  });
  s.args.forEach((a, i) => {
    if (a.includes('\0')) throw new InvalidArgument(`spec.args[${i}]: must not hold NUL`);
  });
  for (const [k, v] of Object.entries(s.env)) {
    if (!ENV_KEY.test(k)) throw new InvalidArgument(`spec.env: "${k.slice(0, 80)}" is not a variable name (letters, digits, '_', not starting with a digit)`);
    if (v.includes('\0')) throw new InvalidArgument(`spec.env[${k}]: must not hold NUL`);
  }
  validateVolumeMounts(s.volumeMounts);
  const l = s.limits;
  if (!l) return;
  for (const [f, v] of Object.entries({ cpu_quota: l.cpuQuota, cpu_period: l.cpuPeriod, memory_limit: l.memoryLimit, memory_swap: l.memorySwap, io_read_bps: l.ioReadBps, io_write_bps: l.ioWriteBps }))
    if (!Number.isSafeInteger(v) || v < 0) throw new InvalidArgument(`spec.limits.${f}: ${v}; give 0 (the default) or a positive number`);
  if (l.cpuPeriod && (l.cpuPeriod < 1000 || l.cpuPeriod > 1_000_000)) throw new InvalidArgument(`spec.limits.cpu_period: ${l.cpuPeriod} µs; between 1000 and 1000000`);
  if (l.cpuQuota && l.cpuQuota < 1000) throw new InvalidArgument(`spec.limits.cpu_quota: ${l.cpuQuota} µs; at least 1000`);
  if (l.memoryLimit && l.memoryLimit < LIMITS.minContainerMemoryBytes) throw new InvalidArgument(`spec.limits.memory_limit: ${l.memoryLimit}; at least ${LIMITS.minContainerMemoryBytes / MiB} MiB`);
  const mem = l.memoryLimit || s.memoryBytes;
  if (l.memorySwap && l.memorySwap < mem) throw new InvalidArgument(`spec.limits.memory_swap: ${l.memorySwap} is memory plus swap and cannot be less than the memory limit ${mem}`);
};

/** What the scheduler holds on a node: CPU, memory, and the disks' sizes (a copy of an image counts its size when known). */
export const resourcesFor = (s: InstanceSpecData, images: ResolvedImages): Resources => {
  let diskBytes = 0;
  let bootFromImage = false;
  for (const d of s.disks) {
    if (d.boot && s.image) {
      bootFromImage = true;
      diskBytes += Math.max(d.sizeBytes, images.image?.sizeBytes ?? 0);
    } else diskBytes += d.sizeBytes;
  }
  if (s.image && !bootFromImage) diskBytes += images.image?.sizeBytes ?? 0;
  return { cpuCores: s.cpuCores, memoryBytes: s.memoryBytes, diskBytes, gpuCount: 0 };
};
