import type { Logger } from 'pino';

/** What a user, a terminal or a service manager sends to end the server. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Ends the process gracefully on the first stop signal, whenever it comes
 * (the handlers are in place before anything starts, so a signal during the
 * start stops what started), then exits: 0 when `stop` finished, 1 when it
 * failed or took longer than `deadlineMs` (children that must not outlive
 * the process end with it, see src/shared/owned-children.ts).
 *
 * Later signals are the same request, not a reason to cut the stop short:
 * a signal to the process group arrives twice, once from the group and once
 * forwarded by npm.
 */
export const stopOnSignals = (log: Logger, stop: (signal: string) => Promise<void>, deadlineMs = 30_000): { readonly stopping: boolean } => {
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) return void log.info({ signal }, 'already shutting down');
    stopping = true;
    log.info({ signal }, 'shutting down');
    setTimeout(() => {
      log.error({ deadlineMs }, 'shutdown did not finish in time; exiting now');
      process.exit(1);
    }, deadlineMs).unref();
    stop(signal).then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err) => {
        log.error({ err }, 'unclean shutdown');
        process.exit(1);
      },
    );
  };
  for (const s of STOP_SIGNALS) process.on(s, () => onSignal(s));
  return {
    get stopping() {
      return stopping;
    },
  };
};
