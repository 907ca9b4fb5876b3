import { h, show } from '../dom';
import { bytes, firstBootDone, instanceState, instanceType } from '../format';
import { nodeName, store } from '../store';
import type { Instance } from '../types';
import { actionButtons } from './actions';
import { badge, since } from './badge';

const sortKey = (i: Instance) => `${i.name ?? ''}\u0000${i.id}`;

/**
 * Every instance, live from the watch: a change redraws only its own row
 * (in name order), a new snapshot redraws them all.
 */
export const instancesView = (root: HTMLElement): (() => void) => {
  const rows = new Map<string, HTMLTableRowElement>();
  const tbody = h('tbody');
  const count = h('span', { class: 'count' });
  const empty = h('p', { class: 'empty' }, 'No instances. Create one with hvctl instance create, or CreateInstance.');

  const rowFor = (i: Instance): HTMLTableRowElement =>
    h(
      'tr',
      { 'data-instance-id': i.id, 'data-state': instanceState(i.state), 'data-first-boot': firstBootDone(i) && 'done' },
      h('td', {}, h('a', { href: `#/instances/${encodeURIComponent(i.id)}`, class: 'name' }, i.name || i.id), h('div', { class: 'id' }, i.id)),
      h('td', { class: 'state' }, badge(instanceState(i.state)), i.stateReason ? h('div', { class: firstBootDone(i) ? 'reason first-boot' : 'reason', title: i.stateReason }, i.stateReason) : ''),
      h('td', {}, instanceType(i.type)),
      h('td', {}, nodeName(i.nodeId)),
      h('td', { class: 'mono' }, i.ipAddress ?? ''),
      h('td', { class: 'num' }, i.spec?.cpuCores ?? 0),
      h('td', { class: 'num' }, bytes(i.spec?.memoryBytes)),
      h('td', {}, since(i.createdAt)),
      h('td', {}, actionButtons(i, () => redraw(i.id))),
    );

  const redraw = (id: string) => {
    const i = store.instances.items.get(id);
    if (i) put(i);
  };
  const summary = () => {
    count.textContent = `${store.instances.items.size}`;
    empty.hidden = store.instances.items.size > 0;
  };
  const put = (i: Instance) => {
    const tr = rowFor(i);
    tr.dataset.key = sortKey(i);
    const old = rows.get(i.id);
    rows.set(i.id, tr);
    if (old && old.dataset.key === tr.dataset.key) return old.replaceWith(tr);
    old?.remove();
    const after = [...tbody.rows].find((r) => r.dataset.key! > tr.dataset.key!);
    tbody.insertBefore(tr, after ?? null);
  };
  const all = () => {
    rows.clear();
    const sorted = [...store.instances.items.values()].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1));
    tbody.replaceChildren(
      ...sorted.map((i) => {
        const tr = rowFor(i);
        tr.dataset.key = sortKey(i);
        rows.set(i.id, tr);
        return tr;
      }),
    );
    summary();
  };

  show(
    root,
    h('h1', {}, 'Instances ', count),
    h(
      'table',
      { class: 'grid', id: 'instances' },
      h('thead', {}, h('tr', {}, ...['Name', 'State', 'Type', 'Node', 'IP', 'CPUs', 'Memory', 'Created', ''].map((t) => h('th', {}, t)))),
      tbody,
    ),
    empty,
  );
  all();
  const offInstances = store.instances.subscribe((changed, deleted) => {
    if (!changed) return all();
    if (deleted) {
      rows.get(changed.id)?.remove();
      rows.delete(changed.id);
    } else put(changed);
    summary();
  });
  const offNodes = store.nodes.subscribe(all);
  return () => {
    offInstances();
    offNodes();
  };
};
