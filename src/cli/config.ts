import { Command } from 'commander';
import YAML from 'yaml';
import path from 'node:path';
import { type CliConfig, type CliContext, configPath, readConfig, writeConfig } from './context';
import { CliError, EXIT } from './exit';
import { FORMATS, type Format } from './print';

const KEYS = ['server', 'actor', 'output'] as const;

/** hvctl's config file: the default server (and actor, output) for every call; flags and HV_* variables win over it. */
export const configCommand = (): Command => {
  const c = new Command('config').description(`Defaults in ${configPath()} ($HVCTL_CONFIG): server, actor, output`);
  c.command('view')
    .description('Print the config file')
    .action(() => void process.stdout.write(YAML.stringify(readConfig())));
  c.command('set')
    .description('Set a default: server host:port, actor name, output table|json|yaml|name')
    .argument('<key>', KEYS.join(', '))
    .argument('<value>')
    .action((key: string, value: string) => {
      if (!(KEYS as readonly string[]).includes(key)) throw new CliError(`INVALID_ARGUMENT: key: "${key}" is not one of ${KEYS.join(', ')}`, EXIT.INVALID_ARGUMENT);
      if (key === 'output' && !FORMATS.includes(value as Format)) throw new CliError(`INVALID_ARGUMENT: output: "${value}" is not one of ${FORMATS.join(', ')}`, EXIT.INVALID_ARGUMENT);
      writeConfig({ ...readConfig(), [key]: value } as CliConfig);
    });
  c.command('unset')
    .description('Remove a default')
    .argument('<key>', KEYS.join(', '))
    .action((key: string) => {
      if (!(KEYS as readonly string[]).includes(key)) throw new CliError(`INVALID_ARGUMENT: key: "${key}" is not one of ${KEYS.join(', ')}`, EXIT.INVALID_ARGUMENT);
      const cfg = readConfig() as Record<string, unknown>;
      delete cfg[key];
      writeConfig(cfg as CliConfig);
    });
  c.command('set-context')
    .description('Name a server and the files to prove who you are there with (kubectl-style): --server, --ca, --cert, --key; unset parts are kept')
    .argument('<name>')
    .action(function (this: Command, name: string) {
      // --server, --ca, --cert and --key are hvctl's own options, parsed wherever they stand.
      let root: Command = this;
      while (root.parent) root = root.parent;
      const o = root.opts<CliContext>();
      const cfg = readConfig();
      const abs = (f?: string) => (f ? path.resolve(f) : undefined);
      const given = Object.fromEntries(Object.entries({ server: o.server, ca: abs(o.ca), cert: abs(o.cert), key: abs(o.key) }).filter(([, v]) => v !== undefined));
      writeConfig({ ...cfg, contexts: { ...cfg.contexts, [name]: { ...cfg.contexts?.[name], ...given } } });
    });
  c.command('use-context')
    .description('Use this context from now on (--context and $HVCTL_CONTEXT win over it)')
    .argument('<name>')
    .action((name: string) => {
      const cfg = readConfig();
      if (!cfg.contexts?.[name]) throw new CliError(`NOT_FOUND: context "${name}" is not in ${configPath()} (hvctl config set-context ${name} …)`, EXIT.NOT_FOUND);
      writeConfig({ ...cfg, 'current-context': name });
    });
  c.command('get-contexts')
    .description('List the contexts; * marks the current one')
    .action(() => {
      const cfg = readConfig();
      for (const [name, ctx] of Object.entries(cfg.contexts ?? {}))
        process.stdout.write(`${name === cfg['current-context'] ? '*' : ' '} ${name}\t${ctx.server ?? ''}\t${ctx.cert ?? '(plaintext)'}\n`);
    });
  c.command('path')
    .description('Print where the config file is')
    .action(() => void process.stdout.write(`${configPath()}\n`));
  return c;
};
