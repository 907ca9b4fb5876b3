import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { InstanceType } from '../../src/gen/hypervisor/v1/common';
import type { CreateInstanceRequest } from '../../src/gen/hypervisor/v1/compute';
import { bridgeName } from '../../src/sdn/names';
import { createRequest, MiB } from '../support/compute';
import type { DataplaneLab } from '../dataplane/support';
import { root } from '../dataplane/support';

const run = promisify(execFile);
const repo = path.resolve(__dirname, '../../..');

/** The Debian cloud-style image (scripts/build-cloud-image.sh): built once, then cached under .cache/; a build already running is waited for. */
export const cloudImageDir = (): string =>
  execFileSync('bash', [path.join(repo, 'scripts/build-cloud-image.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();

export const CLOUD_IMAGE = 'debian-cloud.qcow2';
/** Debian's cloud.cfg names its default user `debian`: the instance's public-keys go to it. */
export const DEFAULT_USER = 'debian';

/** An SSH key pair made for the test (the private half 0600, as ssh wants it). */
export class TestKey {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'hv-ssh-key-'));
  readonly private = path.join(this.dir, 'id_ed25519');
  constructor() {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hv-test', '-f', this.private]);
  }
  get public(): string {
    return readFileSync(`${this.private}.pub`, 'utf8').trim();
  }
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A q35 VM of the cloud image with its root disk grown to `diskBytes`, on the network, told `annotations`. */
export const cloudVm = (t: DataplaneLab, image: string, name: string, host: number, net: { networkId: string; subnetId: string; securityGroups: string[] }, annotations: Record<string, string>, diskBytes = 3 * 1024 * MiB): CreateInstanceRequest =>
  createRequest(
    name,
    InstanceType.INSTANCE_TYPE_VM,
    { image, cpuCores: 1, memoryBytes: 768 * MiB, disks: [{ name: 'root', sizeBytes: diskBytes, type: '', boot: true }], network: { ...net, assignPublicIp: false } },
    { preferredNodeId: t.nodeIds[host], metadata: { labels: {}, annotations } },
  );

/**
 * A machine on a VM's network: a namespace of its own (named with the run's token, so
 * the lab's cleanup removes it) whose veth is on the network's bridge in a host's
 * namespace, with the address and MAC of a port made for it in the model (so no
 * guest is ever given that address).
 */
export class NetworkClient {
  constructor(
    readonly ns: string,
    readonly ip: string,
  ) {}

  static async attach(t: DataplaneLab, host: number, networkId: string, subnetId: string, prefixLength: number): Promise<NetworkClient> {
    const port = await t.net.port(networkId, { name: 'ssh-client', subnetId });
    const ns = `${t.lab.token}-cl${host}`;
    const hostNs = t.lab.hosts[host].name;
    const outer = `${t.lab.token}c${host}`;
    await root.ip(['netns', 'add', ns]);
    await root.in(hostNs).ip(['link', 'add', outer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await root.in(hostNs).ip(['link', 'set', outer, 'master', bridgeName(networkId), 'up']);
    const inner = root.in(ns);
    await inner.ip(['link', 'set', 'lo', 'up']);
    await inner.ip(['link', 'set', 'eth0', 'address', port.macAddress, 'mtu', '1400', 'up']);
    await inner.ip(['addr', 'add', `${port.ipAddress}/${prefixLength}`, 'dev', 'eth0']);
    return new NetworkClient(ns, port.ipAddress);
  }

  /** ssh from the namespace with the key; resolves with stdout, rejects with what ssh said. */
  async ssh(key: TestKey, user: string, ip: string, command: string, timeoutMs = 20_000): Promise<string> {
    const { stdout } = await run(
      'ip',
      ['netns', 'exec', this.ns, 'ssh', '-i', key.private, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR', `${user}@${ip}`, command],
      { timeout: timeoutMs },
    );
    return stdout;
  }
}
