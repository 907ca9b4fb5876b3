import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { Empty } from '../gen/google/protobuf/empty';
import {
  CreateUserRequest,
  type DeleteUserRequest,
  type GetUserRequest,
  type IssueCertificateRequest,
  type IssueCertificateResponse,
  ListUsersRequest,
  type ListUsersResponse,
  type RevokeCertificateRequest,
  Role,
  type SetUserRoleRequest,
  User,
} from '../gen/hypervisor/iam/v1/iam';
import { listAll } from '../client/api-client';
import type { Ctx } from './context';
import { CliError, EXIT } from './exit';
import { enumWord, formatAge } from './format';
import { column, type Kind } from './print';
import { resource, run } from './verb';

export const USER: Kind<User> = {
  singular: 'user',
  id: (u) => u.name,
  toJSON: (u) => User.toJSON(u),
  columns: [
    column('NAME', (u) => u.name),
    column('ROLE', (u) => enumWord(Role, 'ROLE_', u.role)),
    column('TENANT', (u) => u.tenant || '-'),
    column('CERTIFICATES', (u) => `${u.certificates.filter((c) => !c.revoked).length} valid, ${u.certificates.filter((c) => c.revoked).length} revoked`),
    column('AGE', (u) => formatAge(u.createdAt).replace(' ago', '')),
  ],
};

const role = (r: string): Role => {
  const v = ({ viewer: Role.ROLE_VIEWER, operator: Role.ROLE_OPERATOR, admin: Role.ROLE_ADMIN } as Record<string, Role>)[r];
  if (v === undefined) throw new CliError(`INVALID_ARGUMENT: --role: "${r}" is not viewer, operator or admin`, EXIT.INVALID_ARGUMENT);
  return v;
};

/**
 * Writes <dir>/<name>.crt, <dir>/<name>.key (0600, when the server made it)
 * and <dir>/ca.crt, and says how to use them.
 */
const writeIdentity = (ctx: Ctx, name: string, dir: string, issued: IssueCertificateResponse) => {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = (n: string) => path.resolve(dir, n);
  writeFileSync(file(`${name}.crt`), issued.certificatePem, { mode: 0o644 });
  if (issued.privateKeyPem) {
    writeFileSync(file(`${name}.key`), issued.privateKeyPem, { mode: 0o600 });
    chmodSync(file(`${name}.key`), 0o600);
  }
  writeFileSync(file('ca.crt'), issued.caCertificatePem, { mode: 0o644 });
  // From a CSR the key is the caller's own, wherever they keep it.
  const key = issued.privateKeyPem ? file(`${name}.key`) : '<the key of your CSR>';
  process.stderr.write(`certificate ${issued.certificate?.serial} for user:${name}, valid until ${issued.certificate?.notAfter?.toISOString()}\n`);
  process.stdout.write(
    [
      `hvctl config set-context ${name} --server ${ctx.server} --ca ${file('ca.crt')} --cert ${file(`${name}.crt`)} --key ${key}`,
      `hvctl config use-context ${name}`,
      '',
    ].join('\n'),
  );
};

const issue = (ctx: Ctx, name: string, o: { csr?: string; days?: string }) =>
  ctx.call<IssueCertificateRequest, IssueCertificateResponse>(ctx.identity, ctx.identity.issueCertificate, {
    name,
    csrPem: o.csr ? readFileSync(o.csr, 'utf8') : '',
    validDays: o.days ? Number(o.days) : 0,
  });

/** hvctl user: the cluster's users, their roles and certificates (network mode; the administrator's). */
export const userCommand = (): Command => {
  const c = resource('user', 'Users: their role, tenant and certificates', ['users']);
  c.command('create')
    .description('Create a user and issue its first certificate into --out (<name>.crt, <name>.key, ca.crt)')
    .argument('<name>')
    .requiredOption('--role <role>', 'viewer, operator or admin')
    .option('--tenant <tenant>', 'bind it to a tenant: it sees and makes only that tenant’s resources')
    .requiredOption('--out <dir>', 'where to write its certificate, key and the CA')
    .option('--csr <file>', 'sign this CSR instead (its key never leaves you)')
    .option('--days <n>', 'validity in days (default 90, at most 825)')
    .action(
      run(async (ctx, name: string, o: { role: string; tenant?: string; out: string; csr?: string; days?: string }) => {
        await ctx.call(ctx.identity, ctx.identity.createUser, CreateUserRequest.fromPartial({ name, role: role(o.role), tenant: o.tenant ?? '' }));
        writeIdentity(ctx, name, o.out, await issue(ctx, name, o));
      }),
    );
  c.command('issue')
    .description('Issue a user another certificate (to rotate: issue, switch, then revoke the old one)')
    .argument('<name>')
    .requiredOption('--out <dir>', 'where to write it')
    .option('--csr <file>', 'sign this CSR instead')
    .option('--days <n>', 'validity in days (default 90, at most 825)')
    .action(run(async (ctx, name: string, o: { out: string; csr?: string; days?: string }) => writeIdentity(ctx, name, o.out, await issue(ctx, name, o))));
  c.command('list')
    .description('List users')
    .option('--tenant <tenant>', 'only this tenant’s')
    .action(
      run(async (ctx, o: { tenant?: string }) => {
        const users = await listAll(async (pageToken) => {
          const r = await ctx.call<ListUsersRequest, ListUsersResponse>(ctx.identity, ctx.identity.listUsers, ListUsersRequest.fromPartial({ tenant: o.tenant ?? '', pageSize: 100, pageToken }));
          return { items: r.users, next: r.nextPageToken };
        });
        ctx.printer.list(USER, users);
      }),
    );
  c.command('get')
    .description('Show a user and its certificates (serial, fingerprint, expiry; never a key)')
    .argument('<name>')
    .action(
      run(async (ctx, name: string) => {
        const u = await ctx.call<GetUserRequest, User>(ctx.identity, ctx.identity.getUser, { name });
        if (ctx.printer.format !== 'table') return ctx.printer.one(USER, u);
        ctx.printer.one(USER, u);
        for (const cert of u.certificates)
          process.stdout.write(`  ${cert.revoked ? 'revoked' : 'valid  '} ${cert.serial}  until ${cert.notAfter?.toISOString()}  ${cert.fingerprint}\n`);
      }),
    );
  c.command('set-role')
    .description('Give a user another role (it applies to its next call)')
    .argument('<name>')
    .argument('<role>', 'viewer, operator or admin')
    .action(run(async (ctx, name: string, r: string) => ctx.printer.one(USER, await ctx.call<SetUserRoleRequest, User>(ctx.identity, ctx.identity.setUserRole, { name, role: role(r) }))));
  c.command('revoke')
    .description('Revoke one of its certificates (refused within a second by every server)')
    .argument('<name>')
    .argument('<serial>', 'as `hvctl user get` shows it')
    .action(run(async (ctx, name: string, serial: string) => ctx.printer.one(USER, await ctx.call<RevokeCertificateRequest, User>(ctx.identity, ctx.identity.revokeCertificate, { name, serial }))));
  c.command('delete')
    .description('Delete a user; every certificate it had is revoked')
    .argument('<name>')
    .action(
      run(async (ctx, name: string) => {
        await ctx.call<DeleteUserRequest, Empty>(ctx.identity, ctx.identity.deleteUser, { name });
        process.stderr.write(`user ${name} deleted\n`);
      }),
    );
  return c;
};
