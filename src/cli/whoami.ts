import { Command } from 'commander';
import { Role, WhoAmIResponse } from '../gen/hypervisor/iam/v1/iam';
import { enumWord } from './format';
import { resource, run } from './verb';

/** hvctl whoami: the identity the server sees this invocation as, its role and tenant, and the server's mode. */
export const whoamiCommand = (): Command =>
  new Command('whoami').description('Who the server takes you for: identity, role, tenant, and its mode').action(
    run(async (ctx) => {
      const me = await ctx.call<object, WhoAmIResponse>(ctx.identity, ctx.identity.whoAmI, {});
      ctx.printer.record(me.identity, { IDENTITY: me.identity, ROLE: enumWord(Role, 'ROLE_', me.role), TENANT: me.tenant || '-', MODE: me.mode }, WhoAmIResponse.toJSON(me));
    }),
  );

/** hvctl ui login: a one-time URL that opens the web console as you. */
export const uiCommand = (): Command => {
  const c = resource('ui', 'The web console');
  c.command('login')
    .description('Print a one-time URL (valid 5 minutes) that opens the web console as you, for an hour renewed while used')
    .action(
      run(async (ctx) => {
        const r = await ctx.call(ctx.identity, ctx.identity.createConsoleLogin, {});
        process.stdout.write(`${r.url}\n`);
      }),
    );
  return c;
};
