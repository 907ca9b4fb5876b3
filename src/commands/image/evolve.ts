import type { Evolving } from '../decider';
import type { ImageEvent } from './events';
import type { ImageState } from './state';

export const evolve = (s: ImageState, e: Evolving<ImageEvent>): ImageState => {
  switch (e.type) {
    case 'ImageRegistered':
      return { id: s.id, ...e.data, exists: true, createdAt: e.time, updatedAt: e.time };
    case 'ImageUpdated':
      return { ...s, ...e.data, kind: e.data.kind, updatedAt: e.time };
  }
};
