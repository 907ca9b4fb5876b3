import type { ServiceDefinition } from '@grpc/grpc-js';

/**
 * A stream's message already serialized, with what it was made from. A watch
 * event goes to every watcher the change concerns: serialized once and sent to
 * all of them, where grpc-js would serialize it again for each stream (an
 * instance event took 10–30 µs of the server's CPU each time, most of what
 * sending a watch event cost).
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
 * once. Only the last one is kept: a change goes to all of its watchers, one
 * after another, before the next change, and a change the model keeps in its
 * history must not keep its bytes alive too.
 */
export class SharedEncodings<K extends object, T> {
  private lastKey?: K;
  private last?: EncodedAnswer<T>;

  constructor(private readonly serialize: (m: T) => Buffer) {}

  of(key: K, message: () => T): EncodedAnswer<T> {
    if (this.lastKey !== key || !this.last) {
      const m = message();
      this.last = new EncodedAnswer(m, this.serialize(m));
      this.lastKey = key;
    }
    return this.last;
  }
}
