import { AckPolicy, DeliverPolicy, type JetStreamManager } from 'nats';
import type { Logger } from 'pino';
import type { Dispatcher } from '../../bus/dispatcher';
import { type IntegratorState, validFeedFilter, validIntegratorName } from '../../commands/integrator';
import { NotFound } from '../../errors';
import { FEED_STREAM } from '../../feed/subjects';
import type { IdentityServiceServer } from '../../gen/hypervisor/iam/v1/iam';
import { certificateFacts } from '../../pki/certificate';
import { type ClusterCa, issue, publicKeyOf, publicKeyOfCsr } from '../../pki/cluster-ca';
import { newKey } from '../../pki/openssl';
import { unary } from '../../shared/grpc-unary';
import { originOf } from '../../grpc/request-context';

const FEED_CERT_DAYS = 365;

/** The durable consumer an integrator pulls from, and the inbox prefix its connection uses. */
export const feedConsumer = (name: string) => `feed-${name}`;
export const feedInbox = (name: string) => `_INBOX_feed_${name}`;

export interface FeedCredentialsDeps {
  readonly integrators: { state(id: string): IntegratorState | undefined };
  readonly dispatcher: Dispatcher;
  readonly ca: ClusterCa;
  readonly jsm: () => Promise<JetStreamManager>;
  /** What integrators are told to connect to. */
  readonly natsUrl: () => string;
  /** nats-server configuration for an operator's own NATS, with every identity of the log. */
  readonly natsAuthorization: () => string;
  readonly log: Logger;
}

type FeedMethods = Pick<IdentityServiceServer, 'createFeedCredentials' | 'revokeFeedCredentials' | 'getNatsAuthorization'>;

/**
 * Integrators read the feed (HV_EVENTS) with a certificate `feed:<name>`
 * whose only right on NATS is pulling its own durable consumer, made here
 * by the control plane with the filter the administrator chose.
 */
export const feedCredentials = (d: FeedCredentialsDeps): FeedMethods => ({
  createFeedCredentials: unary(d.log, 'CreateFeedCredentials', async (req, call) => {
    const name = validIntegratorName('name', req.name);
    const filter = validFeedFilter('filter', req.filter || 'hv.events.v1.>');
    const consumer = feedConsumer(name);
    const privateKeyPem = req.csrPem ? undefined : await newKey();
    const publicKeyPem = privateKeyPem ? await publicKeyOf(privateKeyPem) : await publicKeyOfCsr(req.csrPem);
    const certificatePem = await issue(d.ca, { commonName: `feed:${name}`, publicKeyPem, days: FEED_CERT_DAYS, usage: 'client' });
    const f = certificateFacts(certificatePem);
    const jsm = await d.jsm();
    await jsm.consumers.add(FEED_STREAM, { durable_name: consumer, filter_subject: filter, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
    await d.dispatcher.execute(originOf(call), 'integrator', name, {
      type: 'IssueFeedCredentials',
      data: { filter, consumer, serial: f.serial, fingerprint: f.fingerprint, notAfter: f.notAfter.toISOString() },
    });
    return {
      consumer,
      certificate: { serial: f.serial, fingerprint: f.fingerprint, notAfter: f.notAfter, issuedAt: f.notBefore, revoked: false, revokedAt: undefined },
      certificatePem,
      privateKeyPem: privateKeyPem ?? '',
      caCertificatePem: d.ca.certPem,
      inboxPrefix: feedInbox(name),
      natsUrl: d.natsUrl(),
    };
  }),

  revokeFeedCredentials: unary(d.log, 'RevokeFeedCredentials', async (req, call) => {
    const name = validIntegratorName('name', req.name);
    if (!d.integrators.state(name)?.exists) throw new NotFound(`integrator ${name} not found`);
    await d.dispatcher.execute(originOf(call), 'integrator', name, { type: 'RevokeFeedCredentials', data: {} });
    await (await d.jsm()).consumers.delete(FEED_STREAM, feedConsumer(name)).catch(() => undefined);
    return {};
  }),

  getNatsAuthorization: unary(d.log, 'GetNatsAuthorization', async () => ({ configuration: d.natsAuthorization() })),
});
