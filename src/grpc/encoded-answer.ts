import type { ServiceDefinition } from '@grpc/grpc-js';

/**
 * A stream's message already serialized, with what it was made from. A watch
 * event goes to every watcher the change concerns: serialized once and sent to
 * all of them, where grpc-js would serialize it again for each stream (an
 * instance event was ~30 µs of the server's CPU each, a burst's largest part of
 * sending watch events).
 */
export class EncodedAnswer<T> {
  constructor(
    readonly message: T,
    readonly bytes: Buffer,
  ) {}
}

/** The service's methods, taking an EncodedAnswer as its bytes and any other answer as before. */
export const acceptEncoded = (def: ServiceDefinition): ServiceDefinition =>
  Object.fromEntries(
    Object.entries(def).map(([name, m]) => [name, { ...m, responseSerialize: (v: unknown) => (v instanceof EncodedAnswer ? v.bytes : m.responseSerialize(v)) }]),
  ) as ServiceDefinition;

/**
 * The encoded answer for `key` (an object every receiver of the same answer
 * shares, such as a change the watch hub hands to each of its watchers), made
 * once while the key lives.
 */
export class SharedEncodings<K extends object, T> {
  private readonly made = new WeakMap<K, EncodedAnswer<T>>();

  constructor(private readonly serialize: (m: T) => Buffer) {}

  of(key: K, message: () => T): EncodedAnswer<T> {
    let e = this.made.get(key);
    if (!e) {
      const m = message();
      this.made.set(key, (e = new EncodedAnswer(m, this.serialize(m))));
    }
    return e;
  }
}
