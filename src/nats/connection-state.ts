import { BehaviorSubject, distinctUntilChanged, type Observable } from 'rxjs';
import { Events, type NatsConnection } from 'nats';

/**
 * Whether the NATS connection is up right now. nats.js keeps reconnecting
 * forever (and buffers what is published meanwhile), so "not closed" is not
 * "connected": readiness, health and the command bus ask this instead.
 */
export class NatsConnectionState {
  private readonly state$ = new BehaviorSubject(true);
  /** Emits on every change (true: connected). */
  readonly changes$: Observable<boolean> = this.state$.pipe(distinctUntilChanged());

  constructor(private readonly nc: NatsConnection) {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === Events.Disconnect) this.state$.next(false);
        else if (s.type === Events.Reconnect) this.state$.next(true);
      }
    })();
    void nc.closed().then(() => this.state$.next(false));
  }

  get connected(): boolean {
    return this.state$.value && !this.nc.isClosed();
  }
}
