import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import YAML from 'yaml';
import { InstanceState, InstanceType } from '../gen/hypervisor/v1/common';
import { CreateInstanceRequest, type Instance } from '../gen/hypervisor/v1/compute';
import type { Ctx } from './context';
import { CliError, EXIT } from './exit';
import { enumValue, parseBytes, parseCount, parsePairs } from './format';
import { INSTANCE } from './instance-read';
import { waitForInstance } from './instance-wait';
import { networkRef } from './network';
import { nodeRef } from './node';
import { sgRef } from './security-group';
import { subnetRef } from './subnet';
import { repeat, run } from './verb';

interface CreateFlags {
  file?: string;
  type?: string;
  cpus?: number;
  memory?: string;
  image?: string;
  kernel?: string;
  initrd?: string;
  kernelArgs?: string;
  disk?: string[];
  network?: string;
  sg?: string[];
  publicIp?: boolean;
  label?: string[];
  annotation?: string[];
  command?: string[];
  arg?: string[];
  env?: string[];
  node?: string;
  region?: string;
  zone?: string;
  wait?: boolean;
  waitTimeout: number;
}

const invalid = (m: string) => new CliError(`INVALID_ARGUMENT: ${m}`, EXIT.INVALID_ARGUMENT);

/** Sizes in a spec file may be written as people write them (256MiB); proto3 JSON wants digits. */
const sizeField = (v: unknown, where: string): unknown => (typeof v === 'string' && !/^\d+$/.test(v) ? String(parseBytes(v, where)) : v);

/**
 * A spec file: a CreateInstanceRequest in its proto3 JSON form, written as
 * YAML (or JSON), with two kindnesses: `type: vm` for INSTANCE_TYPE_VM, and
 * sizes such as `memoryBytes: 256MiB`.
 */
export const readSpecFile = (file: string): CreateInstanceRequest => {
  let doc: Record<string, unknown>;
  try {
    doc = (YAML.parse(readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  } catch (e) {
    throw invalid(`-f ${file}: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || Array.isArray(doc)) throw invalid(`-f ${file}: is not a CreateInstanceRequest (a map with name, type, spec, …)`);
  if (typeof doc.type === 'string' && !doc.type.startsWith('INSTANCE_TYPE_'))
    doc.type = InstanceType[enumValue(InstanceType, 'INSTANCE_TYPE_', doc.type, `${file}: type`)];
  const spec = doc.spec as Record<string, unknown> | undefined;
  if (spec) {
    spec.memoryBytes = sizeField(spec.memoryBytes, `${file}: spec.memoryBytes`);
    if (Array.isArray(spec.disks))
      spec.disks.forEach((d: Record<string, unknown>, i) => (d.sizeBytes = sizeField(d.sizeBytes, `${file}: spec.disks[${i}].sizeBytes`)));
  }
  try {
    return CreateInstanceRequest.fromJSON(doc);
  } catch (e) {
    throw invalid(`-f ${file}: ${(e as Error).message}`);
  }
};

/** --disk root=1GiB: a disk of that name and size; the first one given boots. */
const parseDisk = (s: string, i: number) => {
  const m = /^([A-Za-z0-9_-]+)=(.+)$/.exec(s);
  if (!m) throw invalid(`--disk: "${s}" is not name=size (root=1GiB)`);
  return { name: m[1], sizeBytes: parseBytes(m[2], `--disk ${m[1]}`), type: '', boot: i === 0 };
};

/** The request from the file (if any) with every flag given laid over it. */
export const buildRequest = async (ctx: Ctx, name: string, o: CreateFlags): Promise<CreateInstanceRequest> => {
  const base = o.file ? readSpecFile(o.file) : CreateInstanceRequest.fromPartial({});
  const req: CreateInstanceRequest = { ...base, name };
  const spec = (req.spec ??= CreateInstanceRequest.fromPartial({ spec: {} }).spec!);
  if (o.type) req.type = enumValue(InstanceType, 'INSTANCE_TYPE_', o.type, '--type');
  else if (!req.type) req.type = InstanceType.INSTANCE_TYPE_VM;
  if (o.cpus !== undefined) spec.cpuCores = o.cpus;
  else if (!spec.cpuCores) spec.cpuCores = 1;
  if (o.memory) spec.memoryBytes = parseBytes(o.memory, '--memory');
  else if (!spec.memoryBytes) spec.memoryBytes = 256n << 20n;
  if (o.image) spec.image = o.image;
  if (o.kernel) spec.kernel = o.kernel;
  if (o.initrd) spec.initrd = o.initrd;
  if (o.kernelArgs) spec.kernelArgs = o.kernelArgs;
  if (o.disk?.length) spec.disks = o.disk.map(parseDisk);
  if (o.command?.length) spec.command = o.command;
  if (o.arg?.length) spec.args = o.arg;
  if (o.env?.length) spec.env = { ...spec.env, ...parsePairs(o.env, '--env') };
  if (o.network || o.sg?.length || o.publicIp) {
    const net = spec.network ?? { networkId: '', subnetId: '', securityGroups: [], assignPublicIp: false };
    if (o.network) {
      const [n, s] = o.network.split('/');
      net.networkId = await networkRef(ctx, n);
      net.subnetId = s ? await subnetRef(ctx, s) : '';
    }
    if (o.sg?.length) net.securityGroups = await Promise.all(o.sg.map((g) => sgRef(ctx, g)));
    if (o.publicIp) net.assignPublicIp = true;
    spec.network = net;
  }
  const md = (req.metadata ??= { labels: {}, annotations: {} });
  md.labels = { ...md.labels, ...parsePairs(o.label, '--label') };
  md.annotations = { ...md.annotations, ...parsePairs(o.annotation, '--annotation') };
  if (o.node) req.preferredNodeId = await nodeRef(ctx, o.node);
  if (o.region) req.region = o.region;
  if (o.zone) req.zone = o.zone;
  return req;
};

export const createVerb = (c: Command): Command =>
  c
    .command('create')
    .description('Create an instance from flags, or from a spec file (-f) with flags laid over it')
    .argument('<name>', 'the new instance\'s name')
    .option('-f, --file <spec.yaml>', 'a CreateInstanceRequest as YAML or JSON (proto3 JSON field names)')
    .option('--type <type>', 'vm (default), microvm or container')
    .option('--cpus <n>', 'virtual CPUs (default 1)', parseCount('--cpus'))
    .option('--memory <size>', 'memory, e.g. 256MiB (default), 1GiB')
    .option('--image <ref>', 'root disk or container image: an image id, a name from `image list`, an http(s) URL, or oci://<registry>/<repo>:<tag> for a container')
    .option('--kernel <ref>', 'kernel to boot directly (image id, name or URL)')
    .option('--initrd <ref>', 'initrd for --kernel')
    .option('--kernel-args <args>', 'kernel command line')
    .option('--disk <name=size>', 'a disk, e.g. root=1GiB (repeat; the first boots)', repeat)
    .option('--network <net[/subnet]>', 'attach to this network (and subnet), by id or name')
    .option('--sg <group>', 'security group by id or name (repeat)', repeat)
    .option('--public-ip', 'also give it a floating IP from the external network its subnet is routed to')
    .option('--label <key=value>', 'a label (repeat)', repeat)
    .option('--annotation <key=value>', 'an annotation, e.g. hypervisor.restart-policy=always (repeat)', repeat)
    .option('--command <word>', 'container: the command (repeat for each word)', repeat)
    .option('--arg <word>', 'container: an argument (repeat)', repeat)
    .option('--env <key=value>', 'container: an environment variable (repeat)', repeat)
    .option('--node <node>', 'preferred node (id or host name)')
    .option('--region <region>')
    .option('--zone <zone>')
    .option('--wait', 'follow it until RUNNING (exit 0) or FAILED (its reason, exit 21), printing each state')
    .option('--wait-timeout <seconds>', 'how long --wait waits', (v) => Number(v), 300)
    .action(
      run(async (ctx, name: string, o: CreateFlags) => {
        const req = await buildRequest(ctx, name, o);
        let i: Instance = await ctx.call<CreateInstanceRequest, Instance>(ctx.compute, ctx.compute.createInstance, req);
        if (o.wait) i = (await waitForInstance(ctx, i.id, name, InstanceState.INSTANCE_STATE_RUNNING, o.waitTimeout, i))!;
        ctx.printer.one(INSTANCE, i);
      }),
    );
