import type { Logger } from 'pino';

/**
 * Steps of a shutdown that each may take at most `stepMs`: one that takes
 * longer (a NATS that stopped answering) is logged by name and left behind,
 * so the shutdown goes on. `late` tells whether any was.
 */
export class BoundedSteps {
  late = false;

  constructor(
    private readonly log: Logger,
    private readonly stepMs: number,
  ) {}

  async run(what: string, step: () => unknown): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const tooLong = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), this.stepMs)));
    const ended = await Promise.race([Promise.resolve().then(step).then(() => 'done' as const, () => 'done' as const), tooLong]);
    clearTimeout(timer);
    if (ended === 'late') {
      this.late = true;
      this.log.warn({ step: what, waitedMs: this.stepMs }, 'shutdown step did not end in time: going on without it');
    }
  }
}
