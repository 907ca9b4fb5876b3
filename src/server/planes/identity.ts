import type { Server } from '@grpc/grpc-js';
import type { Directory } from '../../authz/directory';
import { directoryOf } from '../../authz/local-directory';
import { userDecider } from '../../commands/user';
import { IdentityServiceService } from '../../gen/hypervisor/iam/v1/iam';
import { identityService } from '../../grpc/identity/identity-service';
import { userDirectory } from '../../grpc/identity/user-directory';
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
  readonly directory: Directory = directoryOf(userDirectory(this.users));

  constructor(
    private readonly security: Security,
    private readonly consoleLogin: (identity: string) => { url: string; expiresAt?: Date },
  ) {}

  get readModels() {
    return [this.users];
  }

  async start(): Promise<void> {}

  addServices(grpc: Server, { dispatcher, pager, log }: PlaneContext): string[] {
    grpc.addService(IdentityServiceService, identityService({ users: this.users, dispatcher, pager, ca: this.security.pki.ca, mode: this.security.mode, consoleLogin: this.consoleLogin, log }));
    return ['hypervisor.iam.v1.IdentityService'];
  }

  async stop(): Promise<void> {}
}
