/** How a watched object changed (mirrors hypervisor.v1 EventType). */
export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One change of one read-model object, at a log position. */
export interface Change<V> {
  readonly type: ChangeType;
  readonly id: string;
  /** The object after the change; for DELETED, as it was last. */
  readonly object: V;
  /** MODIFIED: the object before the change (a filtered watch sees an object leave its filter). */
  readonly previous?: V;
  readonly revision: number;
  readonly time: Date;
}
