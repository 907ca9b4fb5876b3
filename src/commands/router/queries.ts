import type { RouterState } from './state';

/** The interface (and its port) on a subnet, for RemoveRouterInterface and AddRouterInterface's answer. */
export const interfaceOn = (s: RouterState, subnetId: string) => s.interfaces.find((i) => i.subnetId === subnetId);
