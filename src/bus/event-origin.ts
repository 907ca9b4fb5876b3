import type { RecordedEvent } from '../eventstore/event';
import { type Origin, systemOrigin } from './dispatcher';

/**
 * The origin of a command the system sends in reaction to an event (the
 * scheduler placing an instance, a saga releasing an IP): actor
 * `system:<component>`, the correlation id of the request that led to the
 * event, the event as its cause, and a command id derived from the event so
 * a redelivered event repeats nothing.
 */
export const reactionTo = (component: string, event: RecordedEvent, step: string, timeoutMs?: number): Origin =>
  systemOrigin(component, `${event.id}:${step}`, { correlationId: event.meta.correlationId, causationId: event.id }, timeoutMs);
