#!/usr/bin/env node
import { feedCommand, natsCommand } from './feed';
import { Command, CommanderError, Option } from 'commander';
import { auditCommands } from './audit';
import { clusterCommand } from './cluster';
import { completionCommand } from './completion';
import { configCommand } from './config';
import { EXIT, exitWith, fail } from './exit';
import { floatingIpCommand } from './floating-ip';
import { imageCommand } from './image';
import { instanceCommand } from './instance';
import { ipCommand } from './ip';
import { networkCommand } from './network';
import { nodeCommand } from './node';
import { portCommand } from './port';
import { FORMATS } from './print';
import { routerCommand } from './router';
import { securityGroupCommand } from './security-group';
import { snapshotCommand } from './snapshot';
import { subnetCommand } from './subnet';
import { vtepCommand } from './vtep';
import { userCommand } from './user';
import { uiCommand, whoamiCommand } from './whoami';
import { volumeCommand } from './volume';

/** hvctl: the operator's command line for the control plane, one command per resource, in the style of kubectl and incus. */
const program = new Command('hvctl')
  .description('Command line for the hypervisor control plane')
  .addOption(new Option('-s, --server <address>', 'gRPC address of the control plane (else $HV_SERVER, the config file, 127.0.0.1:50051)'))
  .addOption(new Option('-o, --output <format>', 'table (default; names where a resource refers to another), wide (and their ids), json, yaml or name').choices(FORMATS))
  .addOption(new Option('--as <actor>', 'whom you act for, recorded beside your identity when you are an administrator (x-actor; else $HV_ACTOR, the config file)'))
  .addOption(new Option('--context <name>', 'a context of the config file (else $HVCTL_CONTEXT, its current context)'))
  .addOption(new Option('--ca <file>', "the cluster CA's certificate, for a server in network mode (else $HVCTL_CA, the context)"))
  .addOption(new Option('--cert <file>', 'your client certificate (else $HVCTL_CERT, the context; on the server host: its admin.crt)'))
  .addOption(new Option('--key <file>', 'the key of --cert (else $HVCTL_KEY, the context)'))
  .showHelpAfterError('(add --help for usage)')
  .addHelpText(
    'after',
    `
Exit codes: 0 ok; 1 failure (verify found a difference); 2 usage; a gRPC error exits with
its code (3 INVALID_ARGUMENT, 4 DEADLINE_EXCEEDED, 5 NOT_FOUND, 6 ALREADY_EXISTS,
9 FAILED_PRECONDITION, 11 OUT_OF_RANGE, 14 UNAVAILABLE, …); an instance that stopped,
FAILED or was deleted while hvctl waited for it or was attached: 20, 21, 22.`,
  );

for (const c of [
  nodeCommand(),
  clusterCommand(),
  instanceCommand(),
  imageCommand(),
  networkCommand(),
  subnetCommand(),
  portCommand(),
  securityGroupCommand(),
  routerCommand(),
  floatingIpCommand(),
  ipCommand(),
  vtepCommand(),
  volumeCommand(),
  snapshotCommand(),
  ...auditCommands(),
  userCommand(),
  feedCommand(),
  natsCommand(),
  whoamiCommand(),
  uiCommand(),
  configCommand(),
])
  program.addCommand(c);
program.addCommand(completionCommand(program));

// A reader that has seen enough (`hvctl … | head`) closes the pipe: that ends hvctl quietly, as it ends any Unix tool.
for (const s of [process.stdout, process.stderr])
  s.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT.OK);
    throw e;
  });

// Usage errors exit 2 (as getopt tools do), help and --version 0; everything else is reported by fail().
const overrideExits = (c: Command) => {
  c.exitOverride();
  for (const s of c.commands) overrideExits(s);
};
overrideExits(program);

program
  .parseAsync()
  .then(() => exitWith(Number(process.exitCode ?? EXIT.OK)))
  .catch((e: unknown) => {
    if (e instanceof CommanderError) return exitWith(e.exitCode === 0 ? EXIT.OK : EXIT.USAGE);
    fail(e);
  });
