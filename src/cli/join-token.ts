import type { Command } from 'commander';
import type { CreateJoinTokenRequest, CreateJoinTokenResponse, RevokeJoinTokenRequest, RevokeJoinTokenResponse, RevokeNodeRequest, RevokeNodeResponse } from '../gen/hypervisor/iam/v1/iam';
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

/** hvctl node revoke: a host's identity, refused from now on on gRPC, AgentService and NATS; its node goes NOT_READY, its guests keep running. */
export const revokeNodeCommand = (c: Command): void => {
  c.command('revoke')
    .description("Revoke a host's identity: its certificate is refused within seconds (gRPC, NATS); the node goes NOT_READY; its guests keep running")
    .argument('<hostname>', 'the host name it joined with')
    .action(
      run(async (ctx, hostname: string) => {
        await ctx.call<RevokeNodeRequest, RevokeNodeResponse>(ctx.identity, ctx.identity.revokeNode, { hostname });
        process.stderr.write(`node:${hostname} revoked; its guests keep running (stop them yourself if you mean to)\n`);
      }),
    );
};
