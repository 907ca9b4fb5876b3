import { ApiError } from './api';

let timer: ReturnType<typeof setTimeout> | undefined;

/** Shows a failure (its gRPC code and message) in the banner until the next one or a while. */
export const notify = (what: string, e: unknown): void => {
  const el = document.getElementById('notice')!;
  const text = e instanceof ApiError ? `${e.code}: ${e.message}` : String((e as Error)?.message ?? e);
  el.textContent = `${what} failed — ${text}`;
  el.hidden = false;
  if (timer) clearTimeout(timer);
  timer = setTimeout(() => (el.hidden = true), 15_000);
};
