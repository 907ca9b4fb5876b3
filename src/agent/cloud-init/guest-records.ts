import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { writeFileAtomic } from '../../shared/atomic-file';
import path from 'node:path';
import { sshKeysOf, userDataOf } from '../../domain/guest-annotations';
import type { GuestRecord } from '../../sdn/metadata/answer';
import type { MetadataConfig } from '../../sdn/linuxbridge/metadata-servers';
import type { InstanceWork } from '../protocol';
import { hostnameOf } from './nocloud';

/**
 * What the metadata service knows of this host's guests: one file per instance
 * with ports (its user-data and keys: 0600 in a 0700 directory), written when its
 * work is done here and removed with it, so nothing of a deleted guest is kept.
 * The servers in the DHCP namespaces read them; they write a phone-home back,
 * which the agent reports once (phonedHome()).
 */
export class GuestRecords implements MetadataConfig {
  readonly guestsDir: string;
  readonly phoneHomeDir: string;

  constructor(dir: string) {
    this.guestsDir = path.join(dir, 'guests');
    this.phoneHomeDir = path.join(dir, 'phone-home');
    for (const d of [this.guestsDir, this.phoneHomeDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
  }

  /** The instance's record, from its work; an instance without addressed ports has none. */
  put(w: Pick<InstanceWork, 'instanceId' | 'kind' | 'name' | 'annotations' | 'network'>): void {
    const ports = (w.network?.ports ?? []).filter((p) => p.instanceId === w.instanceId && p.ip).map((p) => ({ subnetId: p.subnetId, ip: p.ip, mac: p.mac.toLowerCase() }));
    if (w.kind === 'container' || ports.length === 0) return this.remove(w.instanceId);
    const userData = userDataOf(w.annotations);
    const r: GuestRecord = { instanceId: w.instanceId, name: w.name, hostname: hostnameOf(w.name), ports, publicKeys: sshKeysOf(w.annotations), ...(userData !== undefined ? { userData } : {}) };
    writeFileAtomic(this.file(w.instanceId), JSON.stringify(r), { mode: 0o600 });
  }

  remove(instanceId: string): void {
    rmSync(this.file(instanceId), { force: true });
    for (const ext of ['json', 'reported']) rmSync(path.join(this.phoneHomeDir, `${instanceId}.${ext}`), { force: true });
  }

  /** The phone-home was reported: phonedHome() leaves it out from now on. */
  markReported(instanceId: string): void {
    this.file(instanceId);
    renameSync(path.join(this.phoneHomeDir, `${instanceId}.json`), path.join(this.phoneHomeDir, `${instanceId}.reported`));
  }

  /** Guests that phoned home (their first boot is done), with when. */
  phonedHome(): { instanceId: string; at: string }[] {
    let names: string[];
    try {
      names = readdirSync(this.phoneHomeDir).filter((f) => f.endsWith('.json'));
    } catch {
      return [];
    }
    return names.flatMap((f) => {
      try {
        const r = JSON.parse(readFileSync(path.join(this.phoneHomeDir, f), 'utf8')) as { instanceId: string; at: string };
        return [{ instanceId: r.instanceId, at: r.at }];
      } catch {
        return [];
      }
    });
  }

  private file(instanceId: string): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(instanceId)) throw new Error(`instance id ${JSON.stringify(instanceId)} is not a file name`);
    return path.join(this.guestsDir, `${instanceId}.json`);
  }
}
