import { h } from '../dom';
import { ago } from '../format';

/** A state or status as a coloured label; the class carries the state for the stylesheet. */
export const badge = (name: string): HTMLElement => h('span', { class: `badge badge-${name.toLowerCase().replace(/_/g, '-')}` }, name);

/** A relative time that main.ts keeps current (from the page's clock, not the server). */
export const since = (iso: string | undefined): HTMLElement | string => (iso ? h('time', { 'data-ts': iso, datetime: iso, title: iso }, ago(iso)) : '');
