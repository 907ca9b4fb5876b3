import type { Evolving } from '../decider';
import type { Decider } from '../decider';
import { AlreadyExists, InvalidArgument, NotFound } from '../../errors';

/** An integrator reading the feed: its own durable consumer on HV_EVENTS (made by the control plane with its filter) and its certificate `feed:<name>`. */
export interface IntegratorState {
  readonly id: string;
  readonly exists: boolean;
  readonly filter?: string;
  readonly consumer?: string;
  readonly serial?: string;
  readonly fingerprint?: string;
  readonly notAfter?: string;
  readonly createdAt?: Date;
  readonly revokedAt?: Date;
}

export type IntegratorCommand =
  | { type: 'IssueFeedCredentials'; data: { filter: string; consumer: string; serial: string; fingerprint: string; notAfter: string } }
  | { type: 'RevokeFeedCredentials'; data: Record<string, never> };

export type IntegratorEvent =
  | { type: 'FeedCredentialsIssued'; data: { filter: string; consumer: string; serial: string; fingerprint: string; notAfter: string } }
  | { type: 'FeedCredentialsRevoked'; data: Record<string, never> };

const NAME = /^[a-z][a-z0-9-]{0,62}$/;
/** Subjects of the feed an integrator may ask for: hv.events.v1 and below, NATS wildcards allowed. */
const FILTER = /^hv\.events\.v1(\.([A-Za-z0-9_-]+|\*))*(\.>)?$/;

export const validIntegratorName = (field: string, name: string): string => {
  if (!NAME.test(name)) throw new InvalidArgument(`${field}: "${name}" is not an integrator name (1-63 lower-case letters, digits and '-', starting with a letter)`);
  return name;
};

export const validFeedFilter = (field: string, filter: string): string => {
  if (!FILTER.test(filter)) throw new InvalidArgument(`${field}: "${filter}" is not a subject of the feed (hv.events.v1.<type>.<id>.<event>, with * and > as in NATS)`);
  return filter;
};

const decide = (c: IntegratorCommand, s: IntegratorState): IntegratorEvent[] => {
  validIntegratorName('name', s.id);
  switch (c.type) {
    case 'IssueFeedCredentials':
      validFeedFilter('filter', c.data.filter);
      if (s.exists && !s.revokedAt) {
        if (s.serial === c.data.serial) return [];
        throw new AlreadyExists(`integrator ${s.id} already has feed credentials (revoke them first)`);
      }
      return [{ type: 'FeedCredentialsIssued', data: { ...c.data } }];
    case 'RevokeFeedCredentials':
      if (!s.exists) throw new NotFound(`integrator ${s.id} not found`);
      return s.revokedAt ? [] : [{ type: 'FeedCredentialsRevoked', data: {} }];
  }
};

const evolve = (s: IntegratorState, e: Evolving<IntegratorEvent>): IntegratorState => {
  switch (e.type) {
    case 'FeedCredentialsIssued':
      return { id: s.id, exists: true, ...e.data, createdAt: e.time };
    case 'FeedCredentialsRevoked':
      return { ...s, revokedAt: e.time };
  }
};

export const integratorDecider: Decider<IntegratorCommand, IntegratorEvent, IntegratorState> = {
  aggregateType: 'integrator',
  initialState: (id) => ({ id, exists: false }),
  decide,
  evolve,
};
