import pino, { type Logger } from 'pino';

export type LogFormat = 'auto' | 'pretty' | 'json';

/** auto: pretty lines for a person at a terminal, JSON lines for everything else (journald, files, log shippers). */
export const prettyLogs = (format: LogFormat, isTTY = !!process.stdout.isTTY): boolean => format === 'pretty' || (format === 'auto' && isTTY);

export const createLogger = (level: string, name: string, format: LogFormat = 'json'): Logger => {
  const opts = { level, name, base: { pid: process.pid } };
  if (!prettyLogs(format)) return pino(opts);
  // Loaded only for pretty lines (some 40 modules a server logging JSON does not need at start).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pretty = require('pino-pretty') as typeof import('pino-pretty');
  // Synchronous, in this thread: the last lines before process.exit are written too.
  return pino(opts, pretty({ sync: true, colorize: !!process.stdout.isTTY, translateTime: 'HH:MM:ss', ignore: 'pid,hostname,name' }));
};
