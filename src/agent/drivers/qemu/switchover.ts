import { DeadlineExceeded, FailedPrecondition } from '../../../errors';
import { SwitchInDoubt } from '../driver';
import type { QmpClient, QmpEvent } from './qmp';

/**
 * The source's migration from its start to its end, with the switch held for the caller.
 * With `pause-before-switchover` QEMU stops the guest once memory has converged and waits
 * in `pre-switchover` before it sends the devices' state: `atSwitch` is asked then (the
 * agent records the switch in the log), and only a yes lets QEMU go on (`migrate-continue`).
 * A no, or an error, cancels: nothing of the state was sent, so the destination cannot run
 * the guest, and QEMU resumes it here.
 *
 * Once the source has gone on, the destination may have loaded the state and run the guest
 * even when the source never hears so (its word on the return path lost): a deadline passed
 * then rejects with SwitchInDoubt and does not cancel, leaving the guest paused here for the
 * caller to decide by the log (giveUpSwitch resumes it; or the QEMU is removed).
 *
 * `status` is the migration's status when this began to wait (an agent started again joins
 * one under way): `pre-switchover` asks at once (its event was sent to the agent that died).
 */
export const untilSwitched = (qmp: QmpClient, timeoutMs: number, atSwitch: () => Promise<boolean>, status?: string): Promise<void> =>
  new Promise((resolve, reject) => {
    let ended = false;
    let continued = status === 'device';
    const end = (err?: Error) => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      qmp.off('event', onEvent);
      qmp.off('disconnect', onGone);
      if (err) reject(err);
      else resolve();
    };
    const atPause = () =>
      void atSwitch()
        .then(async (go) => {
          if (ended) return;
          if (!go) return end(new FailedPrecondition('the log has given the move up; not switched over'));
          continued = true;
          await qmp.execute('migrate-continue', { state: 'pre-switchover' });
        })
        .catch((e: Error) => end(e));
    const onEvent = (e: QmpEvent) => {
      if (e.event !== 'MIGRATION') return;
      const s = String(e.data?.status);
      if (s === 'pre-switchover') atPause();
      else if (s === 'completed') end();
      else if (s === 'failed' || s === 'cancelled')
        void qmp
          .execute<{ 'error-desc'?: string }>('query-migrate')
          .catch(() => ({}) as { 'error-desc'?: string })
          .then((m) => end(new FailedPrecondition(`migration ${s}${m['error-desc'] ? `: ${m['error-desc']}` : ''}`)));
    };
    const onGone = (err: Error) => end(err);
    const timer = setTimeout(() => {
      const why = `migration did not complete within ${timeoutMs} ms`;
      end(continued ? new SwitchInDoubt(`${why}, after the switch began (the destination may have the guest)`) : new DeadlineExceeded(`${why}; cancelled`));
    }, Math.max(0, timeoutMs));
    qmp.on('event', onEvent);
    qmp.on('disconnect', onGone);
    if (status === 'pre-switchover') atPause();
  });

/**
 * Gives up a migration whose switch is in doubt, once the log has recorded it failed: QEMU
 * cancels it (ending the wait for the destination's word) and resumes the guest here.
 */
export const giveUpSwitch = async (qmp: QmpClient, timeoutMs = 10_000): Promise<void> => {
  const over = new Promise<void>((resolve) => {
    const onEvent = (e: QmpEvent) => {
      if (e.event !== 'MIGRATION' || !['cancelled', 'failed', 'completed'].includes(String(e.data?.status))) return;
      clearTimeout(timer);
      qmp.off('event', onEvent);
      resolve();
    };
    const timer = setTimeout(() => (qmp.off('event', onEvent), resolve()), timeoutMs);
    timer.unref();
    qmp.on('event', onEvent);
  });
  await qmp.execute('migrate_cancel');
  const now = await qmp.execute<{ status?: string }>('query-migrate');
  if (!['cancelled', 'failed', 'completed'].includes(String(now.status))) await over;
  // QEMU resumes the source of a migration it cancels (the guest ran before the switch); a completed one stays
  // paused (postmigrate): the log has the guest here either way, so it runs.
  if ((await qmp.execute<{ status: string }>('query-status')).status !== 'running') await qmp.execute('cont');
};
