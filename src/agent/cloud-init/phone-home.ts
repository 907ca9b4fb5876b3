import { type FSWatcher, watch } from 'node:fs';
import type { Logger } from 'pino';
import type { LocalStore } from '../local-store';
import type { Reporter } from '../reporter';
import type { GuestRecords } from './guest-records';

/**
 * Reports each guest's phone-home (its cloud-init's first boot done, noted by the
 * metadata service in its DHCP namespace) to the control plane, once: a note is
 * marked reported only after the report went through, and the decider drops a
 * repeat, so an agent killed in between reports it again harmlessly.
 *
 * A note is looked for when the directory changes (inotify) and, in case a change
 * went unseen or a report failed, every `resyncMs`; where the directory cannot be
 * watched, every `pollMs`. Polling once a second put the report 0.4–0.8 s after
 * cloud-init's last line (BENCHMARKS.md, Cloud images), and cost a thousand
 * directory reads a second on a host of a thousand hollow agents.
 */
export class PhoneHomeReports {
  private timer?: NodeJS.Timeout;
  private watcher?: FSWatcher;
  private running?: Promise<void>;
  /** Asked for again while a look was under way: one more follows it. */
  private again = false;

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

  start(o: { readonly pollMs: number; readonly resyncMs: number }): void {
    let every = o.resyncMs;
    try {
      this.watcher = watch(this.guests.phoneHomeDir, () => this.look());
      this.watcher.on('error', (err) => {
        this.log.warn({ err }, 'the phone-home directory cannot be watched any more; looked at on a timer');
        this.watcher?.close();
        this.watcher = undefined;
        clearInterval(this.timer);
        this.timer = setInterval(() => this.look(), o.pollMs).unref();
      });
      this.watcher.unref();
    } catch (err) {
      this.log.warn({ err }, 'the phone-home directory cannot be watched; looked at on a timer');
      every = o.pollMs;
    }
    this.timer = setInterval(() => this.look(), every).unref();
    // Notes written while the agent was down.
    this.look();
  }

  /** Looks for notes now, or once more after the look under way. */
  private look(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.again = false;
    this.running = this.once()
      .catch((err) => this.log.warn({ err }, 'looking for phone-homes failed'))
      .finally(() => {
        this.running = undefined;
        if (this.again) this.look();
      });
  }

  async stop(): Promise<void> {
    this.watcher?.close();
    this.watcher = undefined;
    clearInterval(this.timer);
    this.again = false;
    await this.running;
  }
}
