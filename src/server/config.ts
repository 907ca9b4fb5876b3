import { fromEnvironment } from '../options/read';
import type { OptionValues } from '../options/option';
import { serverOptions } from '../options/table';

/** Everything the server process can be told, by flag or environment (src/options/table.ts). */
export type ServerConfig = OptionValues<typeof serverOptions>;

/** The config from the environment and the defaults alone. */
export const defaultConfig = (): ServerConfig => fromEnvironment(serverOptions);
