import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { PortDeviceKind, PortPlan } from '../../domain/host-plan';
import { writeJsonAtomic } from '../../shared/atomic-file';
import { tapName, vethName } from '../names';

/**
 * port id → the kind of device it was realised with, kept on disk
 * (`<state>/port-devices.json`): a plan that does not say (the control
 * plane's, before the agent has recorded the instance) never turns a
 * container's veth into a tap.
 */
export class PortDevices {
  private readonly file: string;
  private devices: Record<string, PortDeviceKind>;

  constructor(stateDir: string) {
    this.file = path.join(stateDir, 'port-devices.json');
    this.devices = readRecord(this.file);
  }

  /** The host device of the port: its veth or its tap. */
  deviceOf(p: PortPlan): string {
    return this.kindOf(p) === 'veth' ? vethName(p.id) : tapName(p.id);
  }

  /** The port's device kind: what the plan says (recorded before anything is made), else what it was made with. */
  kindOf(p: PortPlan): PortDeviceKind {
    const kind = p.device ?? this.devices[p.id] ?? 'tap';
    if (p.device && this.devices[p.id] !== p.device) {
      this.devices[p.id] = p.device;
      writeJsonAtomic(this.file, this.devices);
    }
    return kind;
  }

  /** Forgets the ports not in the plan. */
  keepOnly(ports: readonly PortPlan[]): void {
    const gone = Object.keys(this.devices).filter((id) => !ports.some((p) => p.id === id));
    if (!gone.length) return;
    for (const id of gone) delete this.devices[id];
    writeJsonAtomic(this.file, this.devices);
  }
}

const readRecord = <T>(file: string): Record<string, T> => {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return {};
  }
};
