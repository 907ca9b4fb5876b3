import type { Decider } from '../decider';
import type { RouterCommand } from './commands';
import { decide } from './decide';
import type { RouterEvent } from './events';
import { evolve } from './evolve';
import { initialState, type RouterState } from './state';

export const routerDecider: Decider<RouterCommand, RouterEvent, RouterState> = {
  aggregateType: 'router',
  initialState,
  decide,
  evolve,
};
export type { RouterCommand } from './commands';
export type { RouterEvent } from './events';
export type { ExternalGateway, GatewayIp, Route, RouterInterface, RouterState } from './state';
export { reaches } from './decide';
export { interfaceOn } from './queries';
