import type { Logger } from 'pino';
import type { LocalStore } from '../local-store';
import type { Reporter } from '../reporter';
import type { GuestRecords } from './guest-records';

/**
 * Reports each guest's phone-home (its cloud-init's first boot done, noted by the
 * metadata service in its DHCP namespace) to the control plane, once: a note is
 * marked reported only after the report went through, and the decider drops a
 * repeat, so an agent killed in between reports it again harmlessly.
 */
export class PhoneHomeReports {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly guests: GuestRecords,
    private readonly store: LocalStore,
    private readonly reporter: Reporter,
    private readonly log: Logger,
  ) {}

  async once(): Promise<void> {
    for (const { instanceId, at } of this.guests.phonedHome()) {
      const rec = this.store.get(instanceId);
      // Not (or no longer) ours to report: the note waits for the record, or goes with the instance.
      if (!rec || rec.destroyed || rec.origin === 'local') continue;
      try {
        await this.reporter.instance(instanceId, rec.generation, rec.work.correlationId, {
          type: 'ReportGuestBooted',
          data: { nodeId: rec.work.nodeId, generation: rec.generation, at },
        });
        this.guests.markReported(instanceId);
        this.log.info({ instanceId, at }, 'guest finished its first boot (cloud-init phoned home)');
      } catch (err) {
        this.log.warn({ err, instanceId }, 'could not report the guest\'s first boot; tried again');
      }
    }
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      this.running ??= this.once().finally(() => (this.running = undefined));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
