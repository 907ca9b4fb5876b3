import type { Server } from '@grpc/grpc-js';
import type { Directory } from '../../authz/directory';
import { directoryOf } from '../../authz/local-directory';
import { userDecider } from '../../commands/user';
import { IdentityServiceService } from '../../gen/hypervisor/iam/v1/iam';
import { identityService } from '../../grpc/identity/identity-service';
import { userDirectory } from '../../grpc/identity/user-directory';
import { nodeDirectory } from '../../grpc/identity/node-directory';
import { nodeJoining } from '../../grpc/identity/node-joining';
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
  readonly directory: Directory = directoryOf(nodeDirectory(this.nodeIdentities, () => this.security.pki.node.facts.serial, userDirectory(this.users)));

  constructor(
    private readonly security: Security,
    private readonly consoleLogin: (identity: string) => { url: string; expiresAt?: Date },
    /** host:port joining hosts reach this server at (the admin may name another), and the NATS token of lab mode. */
    private readonly joining: { serverAddress: () => string; natsToken?: () => string | undefined; natsUrl?: () => string } = { serverAddress: () => '127.0.0.1:50051' },
  ) {}

  get readModels() {
    return [this.users, this.joinTokens, this.nodeIdentities];
  }

  async start(): Promise<void> {}

  addServices(grpc: Server, { dispatcher, pager, log }: PlaneContext): string[] {
    grpc.addService(IdentityServiceService, {
      ...identityService({ users: this.users, dispatcher, pager, ca: this.security.pki.ca, mode: this.security.mode, consoleLogin: this.consoleLogin, log }),
      ...nodeJoining({ joinTokens: this.joinTokens, dispatcher, ca: this.security.pki.ca, log, ...this.joining }),
    });
    return ['hypervisor.iam.v1.IdentityService'];
  }

  async stop(): Promise<void> {}
}
