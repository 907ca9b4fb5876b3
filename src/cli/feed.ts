import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import type {
  CreateFeedCredentialsRequest,
  CreateFeedCredentialsResponse,
  GetNatsAuthorizationRequest,
  GetNatsAuthorizationResponse,
  RevokeFeedCredentialsRequest,
  RevokeFeedCredentialsResponse,
} from '../gen/hypervisor/iam/v1/iam';
import { run } from './verb';

/** hvctl feed credentials: an integrator's certificate, whose only right on NATS is pulling its own consumer on HV_EVENTS. */
export const feedCommand = (): Command => {
  const c = new Command('feed').description('The integration feed (HV_EVENTS) and the integrators that read it');
  const creds = c.command('credentials').description("Integrators' credentials (admin)");
  creds
    .command('create')
    .description('Make an integrator\'s consumer and certificate: writes <out>/<name>.crt, <name>.key (0600), ca.crt; prints the consumer name')
    .argument('<name>')
    .option('--filter <subject>', 'the feed subjects it reads', 'hv.events.v1.>')
    .requiredOption('--out <dir>', 'where to write its certificate, key and the CA')
    .option('--csr <file>', 'sign this CSR instead (its key never leaves the integrator)')
    .action(
      run(async (ctx, name: string, o: { filter: string; out: string; csr?: string }) => {
        const r = await ctx.call<CreateFeedCredentialsRequest, CreateFeedCredentialsResponse>(ctx.identity, ctx.identity.createFeedCredentials, {
          name,
          filter: o.filter,
          csrPem: o.csr ? readFileSync(o.csr, 'utf8') : '',
        });
        mkdirSync(o.out, { recursive: true, mode: 0o700 });
        const file = (n: string) => path.resolve(o.out, n);
        writeFileSync(file(`${name}.crt`), r.certificatePem, { mode: 0o644 });
        if (r.privateKeyPem) {
          writeFileSync(file(`${name}.key`), r.privateKeyPem, { mode: 0o600 });
          chmodSync(file(`${name}.key`), 0o600);
        }
        writeFileSync(file('ca.crt'), r.caCertificatePem, { mode: 0o644 });
        process.stderr.write(`feed:${name}: pull consumer ${r.consumer} on HV_EVENTS with inbox prefix ${r.inboxPrefix}${r.natsUrl ? ` at ${r.natsUrl}` : ''}\n`);
        process.stdout.write(`${r.consumer}\n`);
      }),
    );
  creds
    .command('revoke')
    .description("Revoke an integrator's credentials: NATS drops it within seconds; its consumer is removed")
    .argument('<name>')
    .action(
      run(async (ctx, name: string) => {
        await ctx.call<RevokeFeedCredentialsRequest, RevokeFeedCredentialsResponse>(ctx.identity, ctx.identity.revokeFeedCredentials, { name });
        process.stderr.write(`feed:${name} revoked\n`);
      }),
    );
  return c;
};

/** hvctl nats authorization: the configuration an operator's own nats-server needs (--nats-url), with every identity the log has now. */
export const natsCommand = (): Command => {
  const c = new Command('nats').description("NATS: what an operator's own nats-server needs");
  c.command('authorization')
    .description('Print the tls and authorization blocks for your nats-server configuration (reload it after each join or revocation)')
    .action(
      run(async (ctx) => {
        const r = await ctx.call<GetNatsAuthorizationRequest, GetNatsAuthorizationResponse>(ctx.identity, ctx.identity.getNatsAuthorization, {});
        process.stdout.write(r.configuration);
      }),
    );
  return c;
};
