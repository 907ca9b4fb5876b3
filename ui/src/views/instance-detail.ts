import { api } from '../api';
import { h, show } from '../dom';
import { bytes, firstBootDone, instanceState, instanceType } from '../format';
import { notify } from '../notice';
import { nodeName, store } from '../store';
import type { AuditEvent, Instance } from '../types';
import { actionButtons } from './actions';
import { badge, since } from './badge';
import { ConsolePanel } from './console-panel';
import { pollVolumes } from './volumes';

const field = (label: string, value: Node | string | number | undefined) => [h('dt', {}, label), h('dd', {}, value ?? '')];

const labels = (m: Record<string, string> | undefined) =>
  h('span', {}, ...Object.entries(m ?? {}).map(([k, v]) => h('span', { class: 'label' }, `${k}=${v}`)));

const details = (i: Instance) =>
  h(
    'dl',
    { class: 'details' },
    ...field('ID', h('span', { class: 'mono' }, i.id)),
    ...field('Type', instanceType(i.type)),
    ...field('Node', nodeName(i.nodeId)),
    ...field('IP address', i.ipAddress),
    ...field('CPUs', i.spec?.cpuCores),
    ...field('Memory', bytes(i.spec?.memoryBytes)),
    ...field('Disks', (i.spec?.disks ?? []).map((d) => `${d.name} ${bytes(d.sizeBytes)} ${d.type ?? ''}${d.boot ? ' (boot)' : ''}`).join(', ')),
    ...field('Image', i.spec?.image),
    ...field('Kernel', i.spec?.kernel),
    ...field('Initrd', i.spec?.initrd),
    ...field('Labels', labels(i.metadata?.labels)),
    ...field('Created', since(i.createdAt)),
    ...field('Started', since(i.startedAt)),
    ...field('State reason', i.stateReason),
  );

const historyTable = (events: AuditEvent[]) =>
  h(
    'table',
    { class: 'grid', id: 'history' },
    h('thead', {}, h('tr', {}, ...['Revision', 'Time', 'Event', 'Actor', 'Correlation'].map((t) => h('th', {}, t)))),
    h(
      'tbody',
      {},
      ...[...events].reverse().map((e) =>
        h(
          'tr',
          { 'data-event-type': e.type ?? '' },
          h('td', { class: 'num' }, e.revision ?? ''),
          h('td', {}, since(e.time)),
          h('td', {}, h('span', { class: 'event-type' }, e.type ?? ''), h('details', {}, h('summary', {}, 'data'), h('pre', {}, JSON.stringify(e.data ?? {}, null, 2)))),
          h('td', {}, e.onBehalfOf ? `${e.actor ?? ''} for ${e.onBehalfOf}` : (e.actor ?? '')),
          h('td', { class: 'mono id' }, e.correlationId ?? ''),
        ),
      ),
    ),
  );

/**
 * One instance: its details and actions live from the watch, its history
 * from AuditService (read again whenever the watch shows it changed), and
 * its serial console, attached while it is RUNNING.
 */
export const instanceDetailView = (root: HTMLElement, id: string): (() => void) => {
  const head = h('div', { class: 'detail-head' });
  const body = h('div');
  const history = h('section', { class: 'history' }, h('h2', {}, 'History'), h('p', { class: 'empty' }, 'loading…'));
  const panel = new ConsolePanel(id);
  const volumes = h('div', { id: 'instance-volume-list' }, h('p', { class: 'empty' }, 'loading…'));
  const stopVolumes = pollVolumes(volumes, id);
  let startedAt: string | undefined;
  let historyFor = '';
  let historyAsked = 0;

  const loadHistory = (i: Instance) => {
    const key = `${i.state}|${i.startedAt}|${store.instances.revision}`;
    if (key === historyFor) return;
    historyFor = key;
    const asked = ++historyAsked;
    api.history(id).then(
      // Only the latest answer is shown: an older one may arrive after it.
      (r) => asked === historyAsked && history.replaceChildren(h('h2', {}, 'History'), r.truncated ? h('p', { class: 'empty' }, 'the latest events only') : '', historyTable(r.events)),
      (e) => notify('history', e),
    );
  };

  const draw = () => {
    const i = store.instances.items.get(id);
    if (!i) {
      show(head, h('h1', {}, h('a', { href: '#/instances' }, 'Instances'), ' / ', id));
      show(body, h('p', { class: 'empty' }, store.instances.status === 'live' ? 'This instance does not exist (or no longer).' : 'loading…'));
      return;
    }
    show(
      head,
      h('h1', {}, h('a', { href: '#/instances' }, 'Instances'), ' / ', i.name || i.id, ' ', h('span', { id: 'detail-state', 'data-state': instanceState(i.state), 'data-first-boot': firstBootDone(i) && 'done' }, badge(instanceState(i.state)))),
      actionButtons(i, draw),
    );
    show(body, details(i));
    loadHistory(i);
    // Attach once it runs, and anew after each start (a new started_at): a stop closes the console.
    if (i.state === 'INSTANCE_STATE_RUNNING' && i.startedAt !== startedAt) {
      startedAt = i.startedAt;
      panel.reattach();
    } else if (i.state !== 'INSTANCE_STATE_RUNNING') panel.idle(`attaches when the instance is RUNNING (it is ${instanceState(i.state)})`);
  };

  show(root, head, body, h('section', { class: 'volumes' }, h('h2', {}, 'Volumes'), volumes), panel.el, history);
  panel.mount();
  draw();
  const offInstances = store.instances.subscribe((changed) => {
    if (!changed || changed.id === id) draw();
  });
  return () => {
    offInstances();
    stopVolumes();
    panel.dispose();
  };
};
