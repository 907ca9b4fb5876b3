import { InvalidArgument } from '../errors';

export interface VolumeMountData {
  readonly name: string;
  readonly mountPath: string;
  readonly readOnly: boolean;
}

// A volume is a directory named after it under the agent's state dir: nothing in
// the name may lead out of it ('/', '..') or hide it ('.' first).
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$/;

export const validateVolumeName = (field: string, name: string): void => {
  if (!name) throw new InvalidArgument(`${field}: is required`);
  if (name.length > 63 || !VOLUME_NAME.test(name) || name.includes('..'))
    throw new InvalidArgument(`${field}: "${name.slice(0, 80)}" must be 1-63 letters, digits, '_', '-' or single dots between them (no '/', no '..')`);
};

/** Each error names the mount and the field. */
export const validateVolumeMounts = (mounts: readonly VolumeMountData[], prefix = 'spec.volume_mounts'): void => {
  const paths = new Set<string>();
  mounts.forEach((m, i) => {
    const f = `${prefix}[${i}]`;
    validateVolumeName(`${f}.name`, m.name);
    const p = m.mountPath;
    if (!p.startsWith('/')) throw new InvalidArgument(`${f}.mount_path: "${p.slice(0, 80)}" must be an absolute path in the container`);
    if (p === '/' || p.split('/').some((c) => c === '..' || c === '.')) throw new InvalidArgument(`${f}.mount_path: "${p.slice(0, 80)}" must not be / nor hold . or ..`);
    if (/[\0,:\n]/.test(p)) throw new InvalidArgument(`${f}.mount_path: must not hold NUL, ',', ':' or a newline`);
    const norm = p.replace(/\/+$/, '');
    if (paths.has(norm)) throw new InvalidArgument(`${f}.mount_path: ${norm} is mounted twice`);
    paths.add(norm);
  });
};
