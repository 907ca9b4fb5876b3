import os from 'node:os';
import { PORT_BINDINGS_ANNOTATION, TUNNEL_INTERFACE_ANNOTATION, TUNNEL_IP_ANNOTATION } from '../../domain/annotations';
import type { DataPlaneDriver } from '../../sdn/driver';

/** The interface that holds an address here ('' if none does). */
export const interfaceWith = (ip: string): string => {
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) if (addrs?.some((a) => a.address === ip)) return name;
  return '';
};

/** What a node with a data plane registers with: its VTEP and the port bindings it offers. */
export const networkAnnotations = (driver: DataPlaneDriver, tunnelIp: string): Record<string, string> => ({
  [TUNNEL_IP_ANNOTATION]: tunnelIp,
  [TUNNEL_INTERFACE_ANNOTATION]: interfaceWith(tunnelIp),
  [PORT_BINDINGS_ANNOTATION]: driver.bindingTypes.filter((b) => b !== 'unspecified').join(','),
});
