import { InvalidArgument } from '../errors';

/**
 * The annotation that says whether a container gets a terminal (CONTRACT.md,
 * "Our additions"). Decided when the container is made, as Kubernetes' `tty` and
 * Docker's `-t` are: its console follows it, whatever an attach asks for.
 */
export const TTY_KEY = 'hypervisor.tty';
const VALUES = ['true', 'false'] as const;

/** Refuses a value the agent would not know, naming the key; absent = true. A VM's console is its serial port: always a terminal. */
export const validateTty = (kind: string, annotations: Readonly<Record<string, string>>): void => {
  const v = annotations[TTY_KEY];
  if (v === undefined) return;
  if (!(VALUES as readonly string[]).includes(v)) throw new InvalidArgument(`metadata.annotations["${TTY_KEY}"]: "${v.slice(0, 40)}" is not ${VALUES.join(' or ')}`);
  if (v === 'false' && kind !== 'container') throw new InvalidArgument(`metadata.annotations["${TTY_KEY}"]: only a container can run without a terminal (a ${kind}'s console is its serial port)`);
};

/** Whether the instance's console is a terminal; absent (or, from old records, unknown) = a terminal. */
export const ttyOf = (annotations: Readonly<Record<string, string>> | undefined): boolean => annotations?.[TTY_KEY] !== 'false';
