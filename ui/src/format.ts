const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 268435456 → "256MiB"; whole numbers shown without decimals. */
export const bytes = (v: string | number | undefined): string => {
  let n = Number(v ?? 0);
  let u = 0;
  while (n >= 1024 && u < UNITS.length - 1) {
    n /= 1024;
    u++;
  }
  return `${Number.isInteger(n) ? n : n.toFixed(1)}${UNITS[u]}`;
};

/** An ISO time as "5s ago", "3m ago", "2h ago", "4d ago". */
export const ago = (iso: string | undefined, now = Date.now()): string => {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
};

/** INSTANCE_STATE_RUNNING → RUNNING; NODE_STATUS_NOT_READY → NOT_READY. */
export const enumName = (v: string | undefined, prefix: string): string => (v ? v.replace(prefix, '') : 'UNSPECIFIED');

export const instanceState = (v: string | undefined) => enumName(v, 'INSTANCE_STATE_');
export const instanceType = (v: string | undefined) => enumName(v, 'INSTANCE_TYPE_');
export const nodeStatus = (v: string | undefined) => enumName(v, 'NODE_STATUS_');
export const nodeRole = (v: string | undefined) => enumName(v, 'NODE_ROLE_');

export const percent = (used: number, total: number): number => (total > 0 ? Math.min(100, Math.round((used / total) * 100)) : 0);
export const volumeStatus = (v: string | undefined) => enumName(v, 'VOLUME_STATUS_');

/** How a RUNNING instance's state_reason begins once its guest's cloud-init phoned home (the server's FIRST_BOOT_DONE, src/wire/views/instance.ts). */
const FIRST_BOOT_DONE = 'first boot done';

/** Whether the guest reported its first boot done: shown beside the state, as a state of its own. */
export const firstBootDone = (i: { state?: string; stateReason?: string }): boolean => instanceState(i.state) === 'RUNNING' && (i.stateReason ?? '').startsWith(FIRST_BOOT_DONE);
