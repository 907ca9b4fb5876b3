import { EventType } from '../gen/hypervisor/v1/common';

/** A read model's change as a watch event's type. */
export const CHANGE_TYPE = { ADDED: EventType.EVENT_TYPE_ADDED, MODIFIED: EventType.EVENT_TYPE_MODIFIED, DELETED: EventType.EVENT_TYPE_DELETED } as const;
