import type { Command } from 'commander';
import {
  type AddSecurityRuleRequest,
  type AddSecurityRuleResponse,
  type CreateSecurityGroupRequest,
  type CreateSecurityGroupResponse,
  type DeleteSecurityGroupRequest,
  type DeleteSecurityGroupResponse,
  EtherType,
  type GetSecurityGroupRequest,
  type GetSecurityGroupResponse,
  type ListSecurityGroupsRequest,
  type ListSecurityGroupsResponse,
  type RemoveSecurityRuleRequest,
  type RemoveSecurityRuleResponse,
  SecurityGroup,
  SecurityGroupRule,
  SecurityRuleDirection,
} from '../gen/hypervisor/v1/network';
import type { Ctx } from './context';
import { CliError, EXIT } from './exit';
import { enumValue, enumWord, formatAge } from './format';
import { column, type Kind } from './print';
import { resolveRef } from './resolve';
import { resource, run, WATCH } from './verb';
import { listAndFollow, listAndRelist, unlessNotFound } from './watch';

export const SECURITY_GROUP: Kind<SecurityGroup> = {
  singular: 'security group',
  id: (g) => g.id,
  toJSON: (g) => SecurityGroup.toJSON(g),
  columns: [
    column('NAME', (g) => g.name),
    column('ID', (g) => g.id),
    column('RULES', (g) => g.rules.length),
    column('TENANT', (g) => g.tenantId),
    column('DESCRIPTION', (g) => g.description),
    column('AGE', (g) => formatAge(g.createdAt).replace(' ago', '')),
  ],
};

const ports = (r: SecurityGroupRule) =>
  r.portRangeMin === 0 && r.portRangeMax === 0 ? 'any' : r.portRangeMin === r.portRangeMax ? String(r.portRangeMin) : `${r.portRangeMin}-${r.portRangeMax}`;

export const RULE: Kind<SecurityGroupRule> = {
  singular: 'rule',
  id: (r) => r.id,
  toJSON: (r) => SecurityGroupRule.toJSON(r),
  columns: [
    column('ID', (r) => r.id),
    column('DIRECTION', (r) => enumWord(SecurityRuleDirection, 'SECURITY_RULE_DIRECTION_', r.direction).toLowerCase()),
    column('ETHERTYPE', (r) => enumWord(EtherType, 'ETHER_TYPE_', r.etherType).toLowerCase()),
    column('PROTOCOL', (r) => r.protocol || 'any'),
    column('PORTS', ports),
    column('REMOTE', (r) => r.remoteIpPrefix || (r.remoteGroupId ? `group ${r.remoteGroupId}` : 'any')),
  ],
};

export const listSecurityGroups = async (ctx: Ctx, tenantId = ''): Promise<SecurityGroup[]> =>
  (await ctx.call<ListSecurityGroupsRequest, ListSecurityGroupsResponse>(ctx.network, ctx.network.listSecurityGroups, { tenantId })).securityGroups;

export const sgRef = (ctx: Ctx, ref: string): Promise<string> => resolveRef('security group', ref, () => listSecurityGroups(ctx), (g) => [g.name], (g) => g.id);

const getGroup = async (ctx: Ctx, securityGroupId: string): Promise<SecurityGroup> =>
  (await ctx.call<GetSecurityGroupRequest, GetSecurityGroupResponse>(ctx.network, ctx.network.getSecurityGroup, { securityGroupId })).securityGroup!;

/** --port 22 or 8000-8080. */
const parsePorts = (s: string | undefined): [number, number] => {
  if (!s) return [0, 0];
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw new CliError(`INVALID_ARGUMENT: --port: "${s}" is not a port or a range (22, 8000-8080)`, EXIT.INVALID_ARGUMENT);
  return [Number(m[1]), Number(m[2] ?? m[1])];
};

export const securityGroupCommand = (): Command => {
  const c = resource('sg', 'Security groups and their rules (stateful; ingress denied unless a rule allows it)', ['security-group']);

  c.command('create')
    .description('Create a security group (with the default egress rules)')
    .argument('<name>', 'the new group\'s name')
    .option('--description <text>')
    .option('--tenant <id>')
    .action(
      run(async (ctx, name: string, o: { description?: string; tenant?: string }) => {
        const r = await ctx.call<CreateSecurityGroupRequest, CreateSecurityGroupResponse>(ctx.network, ctx.network.createSecurityGroup, {
          name, description: o.description ?? '', tenantId: o.tenant ?? '',
        });
        await ctx.printer.one(SECURITY_GROUP, r.securityGroup!);
      }),
    );

  c.command('list')
    .alias('ls')
    .description('List security groups')
    .option('--tenant <id>')
    .option(...WATCH)
    .action(
      run(async (ctx, o: { tenant?: string; watch?: boolean }) => {
        const list = () => listSecurityGroups(ctx, o.tenant ?? '');
        if (!o.watch) return ctx.printer.list(SECURITY_GROUP, await list());
        await listAndFollow(ctx, SECURITY_GROUP, 'security_group', list, (id) => unlessNotFound(getGroup(ctx, id)), (g) => !o.tenant || g.tenantId === o.tenant);
      }),
    );

  c.command('get')
    .description('Show one security group (-o yaml shows its rules too; `sg rule list` lists them)')
    .argument('<group>', 'security group id or name')
    .action(run(async (ctx, ref: string) => ctx.printer.one(SECURITY_GROUP, await getGroup(ctx, await sgRef(ctx, ref)))));

  c.command('delete')
    .alias('rm')
    .description('Delete a security group (no port may use it)')
    .argument('<group>', 'security group id or name')
    .action(
      run(async (ctx, ref: string) => {
        const id = await sgRef(ctx, ref);
        await ctx.call<DeleteSecurityGroupRequest, DeleteSecurityGroupResponse>(ctx.network, ctx.network.deleteSecurityGroup, { securityGroupId: id });
        ctx.printer.done(id, `security group ${ref} deleted`);
      }),
    );

  const rule = c.command('rule').description('The rules of a security group');
  rule
    .command('add')
    .description('Allow traffic: a rule in a security group')
    .argument('<group>', 'security group id or name')
    .option('--direction <direction>', 'ingress (default) or egress', 'ingress')
    .option('--ethertype <type>', 'ipv4 (default) or ipv6', 'ipv4')
    .option('--protocol <protocol>', 'tcp, udp, icmp, … (default: any)')
    .option('--port <port[-port]>', 'a port or a range (tcp/udp)')
    .option('--remote-ip <prefix>', 'from (ingress) or to (egress) this prefix, e.g. 0.0.0.0/0')
    .option('--remote-group <group>', 'from or to the members of this group')
    .action(
      run(async (ctx, ref: string, o: { direction: string; ethertype: string; protocol?: string; port?: string; remoteIp?: string; remoteGroup?: string }) => {
        const [min, max] = parsePorts(o.port);
        const req: AddSecurityRuleRequest = {
          securityGroupId: await sgRef(ctx, ref),
          direction: enumValue(SecurityRuleDirection, 'SECURITY_RULE_DIRECTION_', o.direction, '--direction'),
          etherType: enumValue(EtherType, 'ETHER_TYPE_', o.ethertype, '--ethertype'),
          protocol: o.protocol ?? '',
          portRangeMin: min,
          portRangeMax: max,
          remoteIpPrefix: o.remoteIp ?? '',
          remoteGroupId: o.remoteGroup ? await sgRef(ctx, o.remoteGroup) : '',
        };
        await ctx.printer.one(RULE, (await ctx.call<AddSecurityRuleRequest, AddSecurityRuleResponse>(ctx.network, ctx.network.addSecurityRule, req)).rule!);
      }),
    );
  rule
    .command('remove')
    .alias('rm')
    .description('Remove a rule from a security group')
    .argument('<group>', 'security group id or name')
    .argument('<rule-id>', 'the rule\'s id (sg rule list)')
    .action(
      run(async (ctx, ref: string, ruleId: string) => {
        await ctx.call<RemoveSecurityRuleRequest, RemoveSecurityRuleResponse>(ctx.network, ctx.network.removeSecurityRule, { securityGroupId: await sgRef(ctx, ref), ruleId });
        ctx.printer.done(ruleId, `rule ${ruleId} removed from ${ref}`);
      }),
    );
  rule
    .command('list')
    .alias('ls')
    .description('List the rules of a security group')
    .argument('<group>', 'security group id or name')
    .option(...WATCH)
    .action(
      run(async (ctx, ref: string, o: { watch?: boolean }) => {
        const id = await sgRef(ctx, ref);
        const list = async () => (await getGroup(ctx, id)).rules;
        if (!o.watch) return ctx.printer.list(RULE, await list());
        await listAndRelist(ctx, RULE, 'security_group', id, list);
      }),
    );
  return c;
};
