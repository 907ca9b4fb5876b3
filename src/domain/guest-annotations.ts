import { InvalidArgument } from '../errors';
import type { InstanceKind } from './instance-types';

/**
 * What a VM's guest is told, and how it boots, from its annotations (CONTRACT.md, "Our
 * additions"; docs/cloud-init.md): the published InstanceSpec has no user-data field, so
 * these are annotations, as Incus keeps `cloud-init.user-data` in its config keys.
 */
export const USER_DATA_KEY = 'hypervisor.cloud-init.user-data';
export const SSH_KEYS_KEY = 'hypervisor.ssh-authorized-keys';
export const FIRMWARE_KEY = 'hypervisor.firmware';
export const FIRMWARES = ['bios', 'uefi'] as const;
export type Firmware = (typeof FIRMWARES)[number];

/**
 * The only annotations whose values may span lines, with their size in UTF-8 bytes; every
 * other value stays one line of at most 1,024 characters (requireLabels).
 */
export const MULTI_LINE_ANNOTATIONS: Readonly<Record<string, number>> = {
  [USER_DATA_KEY]: 64 * 1024,
  [SSH_KEYS_KEY]: 16 * 1024,
};

// The key types OpenSSH 9 accepts in authorized_keys, after any options (`no-pty,from="…" `).
const KEY_LINE =
  /(^|\s)(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)\s+[A-Za-z0-9+/]{16,}={0,3}(\s|$)/;

const field = (key: string) => `metadata.annotations["${key}"]`;

/** Refuses what a guest could not use, naming the key: a bad firmware, a line that is no public key, guest data on a container. */
export const validateGuestAnnotations = (kind: InstanceKind, annotations: Readonly<Record<string, string>>): void => {
  const fw = annotations[FIRMWARE_KEY];
  if (fw !== undefined) {
    if (!(FIRMWARES as readonly string[]).includes(fw)) throw new InvalidArgument(`${field(FIRMWARE_KEY)}: "${fw.slice(0, 40)}" is not ${FIRMWARES.join(' or ')}`);
    if (kind !== 'vm') throw new InvalidArgument(`${field(FIRMWARE_KEY)}: only a VM boots firmware (a ${kind} ${kind === 'microvm' ? 'boots its kernel directly' : 'shares the host kernel'})`);
  }
  for (const key of [USER_DATA_KEY, SSH_KEYS_KEY])
    if (annotations[key] !== undefined && kind === 'container')
      throw new InvalidArgument(`${field(key)}: only a VM or microVM has a guest to tell (a container gets its configuration from spec.env and volumes)`);
  const keys = annotations[SSH_KEYS_KEY];
  if (keys === undefined) return;
  const lines = keys.split(/\r?\n/);
  lines.forEach((line, i) => {
    const l = line.trim();
    if (l === '' || l.startsWith('#')) return;
    if (!KEY_LINE.test(l)) throw new InvalidArgument(`${field(SSH_KEYS_KEY)}: line ${i + 1} ("${l.slice(0, 40)}") is not an SSH public key (one key per line, as in authorized_keys)`);
  });
  if (!lines.some((l) => KEY_LINE.test(l.trim()))) throw new InvalidArgument(`${field(SSH_KEYS_KEY)}: holds no SSH public key`);
};

/** The public keys, one per entry, without blank and comment lines. */
export const sshKeysOf = (annotations: Readonly<Record<string, string>> | undefined): string[] =>
  (annotations?.[SSH_KEYS_KEY] ?? '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

export const userDataOf = (annotations: Readonly<Record<string, string>> | undefined): string | undefined => annotations?.[USER_DATA_KEY];

/** The firmware asked for, if any; absent = the agent probes the image. */
export const firmwareOf = (annotations: Readonly<Record<string, string>> | undefined): Firmware | undefined => {
  const v = annotations?.[FIRMWARE_KEY];
  return v !== undefined && (FIRMWARES as readonly string[]).includes(v) ? (v as Firmware) : undefined;
};

/** Whether the guest is to be told anything by cloud-init (a seed and the metadata service). */
export const wantsCloudInit = (annotations: Readonly<Record<string, string>> | undefined): boolean =>
  annotations?.[USER_DATA_KEY] !== undefined || annotations?.[SSH_KEYS_KEY] !== undefined;
