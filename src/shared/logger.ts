import pino, { type Logger } from 'pino';

export const createLogger = (level: string, name: string): Logger => pino({ level, name, base: { pid: process.pid } });
