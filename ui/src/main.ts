import '@xterm/xterm/css/xterm.css';
import './style.css';
import { api } from './api';
import { ago } from './format';
import { replicas } from './replicas';
import { store } from './store';
import { instanceDetailView } from './views/instance-detail';
import { instancesView } from './views/instances';
import { nodesView } from './views/nodes';
import { volumesView } from './views/volumes';

const view = document.getElementById('view')!;
let leave: (() => void) | undefined;

/** #/instances, #/instances/<id>, #/nodes, #/volumes: the hash picks the view, so /ui is one page the server serves as files. */
const route = () => {
  leave?.();
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const section = parts[0] || 'instances';
  for (const a of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) a.classList.toggle('active', a.dataset.nav === section);
  if (section === 'nodes') leave = nodesView(view);
  else if (section === 'volumes') leave = volumesView(view);
  else if (section === 'instances' && parts[1]) leave = instanceDetailView(view, parts[1]);
  else leave = instancesView(view);
};

/** How live the page is: both watches connected, or reconnecting (EventSource retries by itself). */
const liveIndicator = () => {
  const el = document.getElementById('live')!;
  const s = [store.nodes.status, store.instances.status];
  const state = s.every((x) => x === 'live') ? 'live' : 'reconnecting';
  el.dataset.live = state;
  // Which replica the watches are on, and whether the last (re)connection resumed where it left off.
  el.dataset.replica = store.nodes.host;
  el.dataset.resumed = `${store.nodes.resumed}`;
  el.textContent = state === 'live' ? '● live' : '● reconnecting';
};

const clusterLine = () => {
  const nodes = [...store.nodes.items.values()];
  const ready = nodes.filter((n) => n.status === 'NODE_STATUS_READY').length;
  const el = document.getElementById('cluster')!;
  el.dataset.ready = `${ready}`;
  el.textContent = `${el.dataset.name ?? ''} · ${ready}/${nodes.length} nodes ready · ${store.instances.items.size} instances`;
};

api.cluster().then(
  (c) => {
    document.getElementById('cluster')!.dataset.name = c.clusterName ?? '';
    clusterLine();
  },
  () => undefined,
);
store.nodes.start().subscribe(() => (liveIndicator(), clusterLine()));
store.instances.start().subscribe(() => (liveIndicator(), clusterLine()));
liveIndicator();
// The other replicas, for the watches to go to when this page's server stops answering.
void replicas.refresh();
setInterval(() => void replicas.refresh(), 10_000);
window.addEventListener('hashchange', route);
route();

// Relative times ("3m ago") move with the page's clock; nothing is fetched for them.
setInterval(() => {
  for (const t of document.querySelectorAll<HTMLTimeElement>('time[data-ts]')) t.textContent = ago(t.dataset.ts);
}, 5000);
