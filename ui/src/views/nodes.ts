import { h, show } from '../dom';
import { bytes, nodeRole, nodeStatus, percent } from '../format';
import { store } from '../store';
import type { Node, Resources } from '../types';
import { badge, since } from './badge';

/** "used / total" with a bar; what the scheduler has reserved on the node against what it has. */
const usage = (used: number, total: number, fmt: (n: number) => string) => {
  const p = percent(used, total);
  return h(
    'div',
    { class: 'usage', title: `${p}%` },
    h('div', { class: 'bar' }, h('div', { class: `fill${p >= 90 ? ' hot' : ''}`, style: `width:${p}%` })),
    h('span', {}, `${fmt(used)} / ${fmt(total)}`),
  );
};

const cap = (n: Node): Resources => n.allocatable ?? n.capacity ?? {};

/** Every node, live from WatchNodes: status, capacity and what is allocated on it. */
export const nodesView = (root: HTMLElement): (() => void) => {
  const tbody = h('tbody');
  const count = h('span', { class: 'count' });
  const draw = () => {
    const nodes = [...store.nodes.items.values()].sort((a, b) => ((a.hostname ?? '') < (b.hostname ?? '') ? -1 : 1));
    count.textContent = `${nodes.length}`;
    tbody.replaceChildren(
      ...nodes.map((n) => {
        const c = cap(n);
        const a = n.allocated ?? {};
        const instances = [...store.instances.items.values()].filter((i) => i.nodeId === n.id).length;
        return h(
          'tr',
          { 'data-node-id': n.id, 'data-status': nodeStatus(n.status) },
          h('td', {}, h('span', { class: 'name' }, n.hostname ?? n.id), h('div', { class: 'id' }, n.id)),
          h('td', {}, badge(nodeStatus(n.status))),
          h('td', {}, nodeRole(n.role)),
          h('td', { class: 'mono' }, `${n.ip ?? ''}:${n.port ?? ''}`),
          h('td', {}, [n.region, n.zone].filter(Boolean).join(' / ')),
          h('td', {}, usage(a.cpuCores ?? 0, c.cpuCores ?? 0, (x) => `${x}`)),
          h('td', {}, usage(Number(a.memoryBytes ?? 0), Number(c.memoryBytes ?? 0), bytes)),
          h('td', {}, usage(Number(a.diskBytes ?? 0), Number(c.diskBytes ?? 0), bytes)),
          h('td', { class: 'num' }, instances),
          h('td', {}, (n.supportedInstanceTypes ?? []).join(', ')),
          h('td', {}, since(n.createdAt)),
        );
      }),
    );
  };
  show(
    root,
    h('h1', {}, 'Nodes ', count),
    h(
      'table',
      { class: 'grid', id: 'nodes' },
      h(
        'thead',
        {},
        h('tr', {}, ...['Host', 'Status', 'Role', 'Address', 'Region / zone', 'CPUs allocated', 'Memory allocated', 'Disk allocated', 'Instances', 'Runs', 'Registered'].map((t) => h('th', {}, t))),
      ),
      tbody,
    ),
  );
  draw();
  const offNodes = store.nodes.subscribe(draw);
  const offInstances = store.instances.subscribe(draw);
  return () => {
    offNodes();
    offInstances();
  };
};
