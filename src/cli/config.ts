import { Command } from 'commander';
import YAML from 'yaml';
import { type CliConfig, configPath, readConfig, writeConfig } from './context';
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
      const cfg = readConfig() as Record<string, unknown>;
      delete cfg[key];
      writeConfig(cfg as CliConfig);
    });
  c.command('path')
    .description('Print where the config file is')
    .action(() => void process.stdout.write(`${configPath()}\n`));
  return c;
};
