import os from 'node:os';

/** The address other replicas and clients reach a listener by: a wildcard bind is named by this host's name. */
export const advertised = (host: string, port: number): string => `${host === '0.0.0.0' || host === '::' || host === '' ? os.hostname() : host}:${port}`;
