import type { GuardedServer } from '../../grpc/guarded-server';
import type { Directory } from '../../authz/directory';
import { directoryOf } from '../../authz/local-directory';
import { userDecider } from '../../commands/user';
import { IdentityServiceService } from '../../gen/hypervisor/iam/v1/iam';
import { identityService } from '../../grpc/identity/identity-service';
import { userDirectory } from '../../grpc/identity/user-directory';
import { nodeDirectory } from '../../grpc/identity/node-directory';
import { nodeJoining } from '../../grpc/identity/node-joining';
import { feedCredentials } from '../security/feed-credentials';
import { integratorDecider } from '../../commands/integrator';
import { operatorConfiguration } from '../security/nats-authorization';
import { natsIdentities } from '../security/confined-nats';
import { joinTokenDecider } from '../../commands/join_token';
import { nodeIdentityDecider } from '../../commands/node_identity';
import { EntityReadModel } from '../../projections/entity-read-model';
import { toUser } from '../../wire/views/user';
import type { Security } from '../security/setup';
import type { Plane, PlaneContext } from './plane';

/**
 * Identities: the users' read model (every replica's deny list: a revoked
 * or deleted user's certificate stops counting as soon as it is read) and
 * IdentityService.
 */
export class IdentityPlane implements Plane {
  readonly users = new EntityReadModel({ decider: userDecider, view: toUser });
  /** Who a verified client certificate is: the local administrator, a node, or a user of the log. */
  /** Join tokens (single use; the secret only as a hash) and the hosts' identities: which node certificates count. */
  readonly joinTokens = new EntityReadModel({ decider: joinTokenDecider, view: (s) => (s.exists ? s : undefined) });
  readonly nodeIdentities = new EntityReadModel({ decider: nodeIdentityDecider, view: (s) => (s.exists ? s : undefined) });
  /** Integrators with feed credentials (their consumer on HV_EVENTS, their certificate `feed:<name>`). */
  readonly integrators = new EntityReadModel({ decider: integratorDecider, view: (s) => (s.exists ? s : undefined) });
  readonly directory: Directory = directoryOf(nodeDirectory(this.nodeIdentities, () => this.security.pki.node.facts.serial, userDirectory(this.users)));

  constructor(
    private readonly security: Security,
    private readonly consoleLogin: (identity: string) => Promise<{ url: string; expiresAt?: Date }>,
    /** host:port joining hosts reach this server at (the admin may name another), and the NATS token of lab mode. */
    private readonly joining: { serverAddress: () => string; natsToken?: () => string | undefined; natsUrl?: () => string } = { serverAddress: () => '127.0.0.1:50051' },
  ) {}

  get readModels() {
    return [this.users, this.joinTokens, this.nodeIdentities, this.integrators];
  }

  async start(): Promise<void> {}

  addServices(grpc: GuardedServer, { dispatcher, pager, log, nc }: PlaneContext): string[] {
    grpc.addService(IdentityServiceService, {
      ...identityService({ users: this.users, dispatcher, pager, ca: this.security.pki.ca, mode: this.security.mode, consoleLogin: this.consoleLogin, log }),
      ...nodeJoining({ joinTokens: this.joinTokens, dispatcher, ca: this.security.pki.ca, log, ...this.joining }),
      ...feedCredentials({
        integrators: this.integrators,
        dispatcher,
        ca: this.security.pki.ca,
        jsm: () => nc.jetstreamManager(),
        natsUrl: () => this.joining.natsUrl?.() ?? '',
        natsAuthorization: () => operatorConfiguration(natsIdentities(this.nodeIdentities.list(), this.integrators.list())),
        log,
      }),
    });
    return ['hypervisor.iam.v1.IdentityService'];
  }

  async stop(): Promise<void> {}
}
