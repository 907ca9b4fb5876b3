import pino, { type Logger } from 'pino';
import type { InstanceDriver, InstanceType } from './driver';
import { HollowDriver, type HollowDriverOptions } from './hollow/hollow-driver';
import { OciDriver, type OciDriverOptions } from './oci/oci-driver';
import { QemuDriver, type QemuDriverOptions } from './qemu/qemu-driver';

export interface DriverConfig {
  /** Kinds to load, e.g. ['qemu'] on a real host, ['hollow'] only for scale tests. */
  kinds: string[];
  qemu?: Omit<QemuDriverOptions, 'logger'>;
  hollow?: HollowDriverOptions;
  oci?: Omit<OciDriverOptions, 'logger'>;
  logger?: Logger;
}

export type DriverFactory = (config: DriverConfig, log: Logger) => InstanceDriver;

/** The kinds built in. */
export const builtinDrivers: Record<string, DriverFactory> = {
  qemu: (c, log) => {
    if (!c.qemu) throw new Error('the qemu driver needs qemu.stateDir in the config');
    return new QemuDriver({ ...c.qemu, logger: log });
  },
  hollow: (c) => new HollowDriver(c.hollow),
  oci: (c, log) => {
    if (!c.oci) throw new Error('the oci driver needs oci.stateDir in the config');
    return new OciDriver({ ...c.oci, logger: log });
  },
};

export interface LoadedDrivers {
  /** Drivers whose probe passed, by kind. */
  drivers: Map<string, InstanceDriver>;
  /** Drivers that cannot run here, and why; the agent reports them, it does not stop. */
  unsupported: { kind: string; reason: string }[];
  /** The driver for an instance type: the first loaded kind (in config order) that runs it. */
  forType(type: InstanceType): InstanceDriver | undefined;
}

/**
 * Builds and probes each configured driver. A driver that cannot be built or whose
 * probe fails is unsupported on this host: a warning, not a crash (Incus' drivers/load.go).
 */
export async function loadDrivers(config: DriverConfig, factories: Record<string, DriverFactory> = builtinDrivers): Promise<LoadedDrivers> {
  const log = config.logger ?? pino({ level: 'silent' });
  const drivers = new Map<string, InstanceDriver>();
  const unsupported: { kind: string; reason: string }[] = [];
  for (const kind of config.kinds) {
    if (drivers.has(kind)) continue;
    const factory = factories[kind];
    let reason: string | undefined;
    let driver: InstanceDriver | undefined;
    if (!factory) {
      reason = `no driver of kind ${kind} is built in (known: ${Object.keys(factories).join(', ')})`;
    } else {
      try {
        driver = factory(config, log);
        const probe = await driver.probe();
        if (!probe.ok) reason = probe.reason;
      } catch (e) {
        reason = `probe failed: ${(e as Error).message}`;
      }
    }
    if (reason !== undefined) {
      await driver?.close().catch(() => undefined);
      log.warn({ kind, reason }, 'instance driver unsupported on this host');
      unsupported.push({ kind, reason });
      continue;
    }
    log.info({ kind, supports: driver!.supports }, 'instance driver loaded');
    drivers.set(kind, driver!);
  }
  return {
    drivers,
    unsupported,
    forType: (type) => [...drivers.values()].find((d) => d.supports.includes(type)),
  };
}
