import { api } from '../api';
import { h, show } from '../dom';
import { bytes, volumeStatus } from '../format';
import { notify } from '../notice';
import { nodeName } from '../store';
import type { Volume } from '../types';
import { badge, since } from './badge';

/** StorageService has no Watch: the volumes are read again this often while shown. */
const REFRESH_MS = 3_000;

/** A table of volumes; `instanceId` shows only those attached to one instance (its detail page). */
export const volumeTable = (volumes: Volume[], withInstance = true) =>
  h(
    'table',
    { class: 'grid', id: withInstance ? 'volumes' : 'instance-volumes' },
    h('thead', {}, h('tr', {}, ...['Name', 'Size', 'Status', 'Node', ...(withInstance ? ['Instance'] : []), 'Device', 'Encrypted', 'Created'].map((t) => h('th', {}, t)))),
    h(
      'tbody',
      {},
      ...volumes.map((v) =>
        h(
          'tr',
          { 'data-volume-id': v.id, 'data-status': volumeStatus(v.status) },
          h('td', {}, h('span', { class: 'name' }, v.name ?? v.id), h('div', { class: 'id' }, v.id)),
          h('td', { class: 'num' }, bytes(v.sizeBytes)),
          h('td', {}, badge(volumeStatus(v.status)), v.metadata?.annotations?.['hypervisor.reason'] ? h('div', { class: 'reason' }, v.metadata.annotations['hypervisor.reason']) : ''),
          h('td', {}, nodeName(v.nodeId)),
          ...(withInstance ? [h('td', {}, v.instanceId ? h('a', { href: `#/instances/${encodeURIComponent(v.instanceId)}` }, v.instanceId) : '')] : []),
          h('td', { class: 'mono' }, v.devicePath ?? ''),
          h('td', {}, v.encrypted ? `yes (${v.encryptionKeyId ?? ''})` : ''),
          h('td', {}, since(v.createdAt)),
        ),
      ),
    ),
  );

/** Polls the volumes (all, or one instance's) into `into`; returns the stop. */
export const pollVolumes = (into: HTMLElement, instanceId = ''): (() => void) => {
  let stopped = false;
  const load = () =>
    api.volumes(instanceId).then(
      (r) => {
        if (stopped) return;
        into.replaceChildren(r.volumes.length ? volumeTable(r.volumes, !instanceId) : h('p', { class: 'empty' }, instanceId ? 'No volumes attached.' : 'No volumes.'));
        into.dataset.count = `${r.volumes.length}`;
      },
      (e) => notify('volumes', e),
    );
  void load();
  const t = setInterval(load, REFRESH_MS);
  return () => {
    stopped = true;
    clearInterval(t);
  };
};

/** Every volume: size, status (with the reason of an ERROR), node, the instance it is attached to. */
export const volumesView = (root: HTMLElement): (() => void) => {
  const list = h('div', { id: 'volume-list' }, h('p', { class: 'empty' }, 'loading…'));
  show(root, h('h1', {}, 'Volumes'), list);
  return pollVolumes(list);
};
