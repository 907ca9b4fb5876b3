/**
 * Registries spoken to without TLS verification: loopback ones (as Docker
 * does) and those the operator lists (`--oci-insecure-registry host:port`).
 */
export const isInsecureRegistry = (registry: string, listed: readonly string[] = []): boolean => {
  const host = registry.replace(/:[0-9]+$/, '').replace(/^\[|\]$/g, '');
  if (host === 'localhost' || /^127\./.test(host) || host === '::1') return true;
  return listed.includes(registry);
};
