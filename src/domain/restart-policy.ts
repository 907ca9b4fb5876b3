import { InvalidArgument } from '../errors';

/** The annotation that says what the agent does when an instance's process ends (CONTRACT.md, "Our additions"). */
export const RESTART_POLICY_KEY = 'hypervisor.restart-policy';
export const RESTART_POLICIES = ['never', 'on-failure', 'always'] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

const isPolicy = (v: string): v is RestartPolicy => (RESTART_POLICIES as readonly string[]).includes(v);

/** Refuses a value the agent would not know, naming the key. Absent = never. */
export const validateRestartPolicy = (annotations: Readonly<Record<string, string>>): void => {
  const v = annotations[RESTART_POLICY_KEY];
  if (v !== undefined && !isPolicy(v))
    throw new InvalidArgument(`metadata.annotations["${RESTART_POLICY_KEY}"]: "${v.slice(0, 40)}" is not a restart policy (${RESTART_POLICIES.join(', ')})`);
};

/** The policy an instance runs with; absent (or, from old records, unknown) = never. */
export const restartPolicyOf = (annotations: Readonly<Record<string, string>> | undefined): RestartPolicy => {
  const v = annotations?.[RESTART_POLICY_KEY];
  return v !== undefined && isPolicy(v) ? v : 'never';
};
