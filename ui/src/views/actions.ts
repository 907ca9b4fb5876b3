import { api } from '../api';
import { h } from '../dom';
import { notify } from '../notice';
import type { Instance } from '../types';

type Action = 'start' | 'stop' | 'restart' | 'delete';

/** Actions in flight, by instance: kept across re-renders, so a row redrawn by the watch keeps its busy button. */
const busy = new Map<string, Action>();

/** Which actions an instance in this state takes; the server decides in the end (FAILED_PRECONDITION otherwise). */
const allowed = (state: string | undefined): Set<Action> => {
  switch (state) {
    case 'INSTANCE_STATE_RUNNING':
      return new Set(['stop', 'restart', 'delete']);
    case 'INSTANCE_STATE_STOPPED':
    case 'INSTANCE_STATE_FAILED':
      return new Set(['start', 'delete']);
    case 'INSTANCE_STATE_DELETING':
      return new Set();
    default:
      return new Set(['delete']);
  }
};

const run = async (i: Instance, a: Action, rerender: () => void): Promise<void> => {
  if (a === 'delete' && !confirm(`Delete instance ${i.name ?? i.id}?`)) return;
  busy.set(i.id, a);
  rerender();
  try {
    if (a === 'delete') await api.delete(i.id);
    else await api[a](i.id);
  } catch (e) {
    notify(`${a} ${i.name ?? i.id}`, e);
  } finally {
    busy.delete(i.id);
    rerender();
  }
};

/**
 * Start, stop, restart and delete buttons for one instance. What they
 * change shows up through the watch; the answer to the call only ends the
 * busy state (or shows why it failed).
 */
export const actionButtons = (i: Instance, rerender: () => void): HTMLElement => {
  const ok = allowed(i.state);
  const doing = busy.get(i.id);
  const button = (a: Action, label: string) =>
    h(
      'button',
      {
        type: 'button',
        class: `action action-${a}${doing === a ? ' busy' : ''}`,
        'data-action': a,
        disabled: !!doing || !ok.has(a),
        onclick: () => void run(i, a, rerender),
      },
      doing === a ? `${label}…` : label,
    );
  return h('span', { class: 'actions' }, button('start', 'Start'), button('stop', 'Stop'), button('restart', 'Restart'), button('delete', 'Delete'));
};
