import type { ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { UserState } from '../../commands/user/state';
import { validTenant, validUserName } from '../../commands/user';
import type { Dispatcher } from '../../bus/dispatcher';
import { InvalidArgument, NotFound, Unauthenticated } from '../../errors';
import type { IdentityServiceServer, User } from '../../gen/hypervisor/iam/v1/iam';
import type { ClusterCa } from '../../pki/cluster-ca';
import { unary } from '../../shared/grpc-unary';
import { ROLE_TO_PROTO, roleFromProto, toCertificate, toUser } from '../../wire/views/user';
import { callerOf } from '../auth/caller';
import { type Pager, pageSize } from '../paging';
import { originOf } from '../request-context';
import { makeUserCertificate } from './certificates';

export interface IdentityServiceDeps {
  readonly users: { state(id: string): UserState | undefined; list(): User[] };
  readonly dispatcher: Dispatcher;
  readonly pager: Pager;
  readonly ca: ClusterCa;
  /** development, network or insecure: WhoAmI says it. */
  readonly mode: string;
  /** A one-time URL that opens the web console as `identity` (in development mode, its plain address). */
  readonly consoleLogin: (identity: string) => Promise<{ url: string; expiresAt?: Date }>;
  readonly log: Logger;
}

const userRole = (field: string, r: number) => {
  const role = roleFromProto(r);
  if (!role || role === 'node') throw new InvalidArgument(`${field}: ${r} is not a user role (ROLE_VIEWER, ROLE_OPERATOR or ROLE_ADMIN)`);
  return role;
};

/** hypervisor.iam.v1.IdentityService: users, their roles and certificates (admin only, but WhoAmI). */
/** Everything but joining (node-joining.ts). */
type UserMethods = Omit<IdentityServiceServer, 'createJoinToken' | 'revokeJoinToken' | 'joinNode' | 'renewNodeCertificate' | 'revokeNode' | 'createFeedCredentials' | 'revokeFeedCredentials' | 'getNatsAuthorization'>;

export const identityService = (d: IdentityServiceDeps): UserMethods & UntypedServiceImplementation => {
  const present = (name: string): User => {
    const u = d.users.state(name);
    const user = u && toUser(u);
    if (!user) throw new NotFound(`user ${name} not found`);
    return user;
  };
  const execute = (call: ServerUnaryCall<unknown, unknown>, name: string, command: Parameters<Dispatcher['execute']>[3]) =>
    d.dispatcher.execute(originOf(call), 'user', name, command);

  return {
    whoAmI: unary(d.log, 'WhoAmI', async (_req, call) => {
      const me = callerOf(call.metadata);
      if (!me) throw new Unauthenticated('WhoAmI: no identity');
      return { identity: me.name, role: ROLE_TO_PROTO[me.role], tenant: me.tenant ?? '', mode: d.mode };
    }),

    createConsoleLogin: unary(d.log, 'CreateConsoleLogin', async (_req, call) => {
      const me = callerOf(call.metadata);
      if (!me) throw new Unauthenticated('CreateConsoleLogin: no identity');
      const login = await d.consoleLogin(me.name);
      return { url: login.url, expiresAt: login.expiresAt };
    }),

    createUser: unary(d.log, 'CreateUser', async (req, call) => {
      const name = validUserName('name', req.name);
      const role = userRole('role', req.role);
      const tenant = req.tenant ? validTenant('tenant', req.tenant) : undefined;
      await execute(call, name, { type: 'CreateUser', data: { role, ...(tenant ? { tenant } : {}) } });
      return present(name);
    }),

    getUser: unary(d.log, 'GetUser', async (req) => present(validUserName('name', req.name))),

    listUsers: unary(d.log, 'ListUsers', async (req) => {
      const size = pageSize(req.pageSize);
      if (req.tenant) validTenant('tenant', req.tenant);
      const matches = d.users
        .list()
        .filter((u) => !req.tenant || u.tenant === req.tenant)
        .sort((a, b) => a.name.localeCompare(b.name));
      const page = d.pager.page(matches, (u) => u.name, { tenant: req.tenant }, size, req.pageToken);
      return { users: page.items, nextPageToken: page.nextPageToken, totalCount: page.totalCount };
    }),

    setUserRole: unary(d.log, 'SetUserRole', async (req, call) => {
      const name = validUserName('name', req.name);
      await execute(call, name, { type: 'BindRole', data: { role: userRole('role', req.role) } });
      return present(name);
    }),

    issueCertificate: unary(d.log, 'IssueCertificate', async (req, call) => {
      const name = validUserName('name', req.name);
      present(name);
      const made = await makeUserCertificate(d.ca, name, req.csrPem, req.validDays);
      const f = made.facts;
      await execute(call, name, { type: 'RecordCertificate', data: { serial: f.serial, fingerprint: f.fingerprint, notAfter: f.notAfter.toISOString() } });
      const recorded = d.users.state(name)?.certificates.find((c) => c.serial === f.serial);
      if (!recorded) throw new NotFound(`user ${name} not found`);
      return { certificate: toCertificate(recorded), certificatePem: made.certificatePem, privateKeyPem: made.privateKeyPem ?? '', caCertificatePem: d.ca.certPem };
    }),

    revokeCertificate: unary(d.log, 'RevokeCertificate', async (req, call) => {
      const name = validUserName('name', req.name);
      const serial = req.serial.toLowerCase().replace(/:/g, '').replace(/^0+(?=.)/, '');
      if (!/^[0-9a-f]{1,40}$/.test(serial)) throw new InvalidArgument(`serial: "${req.serial}" is not a certificate serial (hex)`);
      await execute(call, name, { type: 'RevokeCertificate', data: { serial } });
      return present(name);
    }),

    deleteUser: unary(d.log, 'DeleteUser', async (req, call) => {
      const name = validUserName('name', req.name);
      await execute(call, name, { type: 'DeleteUser', data: {} });
      return {};
    }),
  };
};
