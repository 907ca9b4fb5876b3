import { AlreadyExists, InvalidArgument, NotFound } from '../../errors';
import { deciderSpec } from '../testing';
import { integratorDecider, type IntegratorEvent } from './index';

const given = deciderSpec(integratorDecider, 'acme-billing');
const creds = { filter: 'hv.events.v1.instance.>', consumer: 'feed-acme-billing', serial: '0af3', fingerprint: 'AB:CD', notAfter: '2027-01-01T00:00:00.000Z' };
const issued: IntegratorEvent = { type: 'FeedCredentialsIssued', data: creds };

describe('integrator decider', () => {
  it('issues feed credentials with a filter of the feed; a bad filter or name is INVALID_ARGUMENT', () => {
    given([]).when({ type: 'IssueFeedCredentials', data: creds }).then([issued]);
    given([]).when({ type: 'IssueFeedCredentials', data: { ...creds, filter: 'hv.log.>' } }).thenThrows(InvalidArgument, /^filter: "hv\.log\.>" is not a subject of the feed/);
    deciderSpec(integratorDecider, 'Bad!')([]).when({ type: 'IssueFeedCredentials', data: creds }).thenThrows(InvalidArgument, /^name:/);
  });

  it('one live set per integrator; after a revocation, new ones', () => {
    given([issued]).when({ type: 'IssueFeedCredentials', data: { ...creds, serial: 'beef' } }).thenThrows(AlreadyExists, /already has feed credentials/);
    given([issued, { type: 'FeedCredentialsRevoked', data: {} }]).when({ type: 'IssueFeedCredentials', data: { ...creds, serial: 'beef' } }).then([{ type: 'FeedCredentialsIssued', data: { ...creds, serial: 'beef' } }]);
  });

  it('revokes once; an unknown integrator is NOT_FOUND', () => {
    given([issued]).when({ type: 'RevokeFeedCredentials', data: {} }).then([{ type: 'FeedCredentialsRevoked', data: {} }]);
    given([]).when({ type: 'RevokeFeedCredentials', data: {} }).thenThrows(NotFound, /integrator acme-billing not found/);
  });
});
