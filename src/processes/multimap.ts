/**
 * Values under each key, as a Set per key would hold them, for the process managers' indexes
 * (the nodes holding capacity for an instance, the ports made for one). Nearly every key holds
 * one value: it is kept bare, not in a Set of one, which at a restart of 50,000 instances was
 * 50,000 Sets to make for each index.
 */
export class MultiMap {
  private readonly m = new Map<string, string | Set<string>>();

  /** How many keys hold a value. */
  get size(): number {
    return this.m.size;
  }

  add(key: string, value: string): void {
    const held = this.m.get(key);
    if (held === undefined) this.m.set(key, value);
    else if (typeof held !== 'string') held.add(value);
    else if (held !== value) this.m.set(key, new Set([held, value]));
  }

  delete(key: string, value: string): void {
    const held = this.m.get(key);
    if (held === undefined) return;
    if (typeof held === 'string') {
      if (held === value) this.m.delete(key);
      return;
    }
    held.delete(value);
    if (held.size === 1) this.m.set(key, held.values().next().value as string);
  }

  /** The key's values now (a copy: later changes leave it as it is). */
  get(key: string): readonly string[] {
    const held = this.m.get(key);
    return held === undefined ? [] : typeof held === 'string' ? [held] : [...held];
  }

  /** The keys holding a value. */
  keys(): IterableIterator<string> {
    return this.m.keys();
  }
}
