import type { Command } from 'commander';
import type { CreateJoinTokenRequest, CreateJoinTokenResponse, RevokeJoinTokenRequest, RevokeJoinTokenResponse } from '../gen/hypervisor/iam/v1/iam';
import { parseDuration } from './format';
import { run } from './verb';

/**
 * hvctl node join-token: single-use tokens hosts join with. The token is
 * printed once, on stdout alone (a script takes it as it is); what it is
 * for goes to stderr.
 */
export const joinTokenCommand = (c: Command): void => {
  const t = c.command('join-token').description('Single-use tokens a host joins the cluster with (admin)');
  t.command('create')
    .description('Make a join token: hypervisor-agent --join-token <token> on the new host')
    .option('--ttl <duration>', 'how long it may be used (90s, 15m, 1h, 7d)', '1h')
    .option('--server-address <host:port>', 'where the new host reaches this server (default: its advertised address)')
    .action(
      run(async (ctx, o: { ttl: string; serverAddress?: string }) => {
        const r = await ctx.call<CreateJoinTokenRequest, CreateJoinTokenResponse>(ctx.identity, ctx.identity.createJoinToken, {
          ttlSeconds: parseDuration(o.ttl, '--ttl'),
          serverAddress: o.serverAddress ?? '',
        });
        if (ctx.printer.format === 'json') {
          process.stdout.write(`${JSON.stringify({ token: r.token, id: r.id, expiresAt: r.expiresAt?.toISOString(), caFingerprint: r.caFingerprint })}\n`);
          return;
        }
        process.stdout.write(`${r.token}\n`);
        process.stderr.write(`join token ${r.id}: single use, until ${r.expiresAt?.toISOString()}; CA ${r.caFingerprint}\n` + `on the new host: hypervisor-agent --join-token <token>   (or HV_JOIN_TOKEN)\n`);
      }),
    );
  t.command('revoke')
    .description('Revoke a join token that was not used yet')
    .argument('<id>', 'the id `create` printed')
    .action(
      run(async (ctx, id: string) => {
        await ctx.call<RevokeJoinTokenRequest, RevokeJoinTokenResponse>(ctx.identity, ctx.identity.revokeJoinToken, { id });
        process.stderr.write(`join token ${id} revoked\n`);
      }),
    );
};
