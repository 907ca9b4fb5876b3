/**
 * Registries spoken to over plain HTTP: loopback ones (as Docker does) and those
 * listed in HV_OCI_INSECURE_REGISTRIES (comma-separated host:port).
 */
export const isInsecureRegistry = (registry: string, env = process.env.HV_OCI_INSECURE_REGISTRIES ?? ''): boolean => {
  const host = registry.replace(/:[0-9]+$/, '').replace(/^\[|\]$/g, '');
  if (host === 'localhost' || /^127\./.test(host) || host === '::1') return true;
  return env
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .includes(registry);
};
