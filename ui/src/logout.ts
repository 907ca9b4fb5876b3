import { store } from './store';

/**
 * Network mode (the console is served over HTTPS only there): Log out ends
 * the session on every replica (POST /ui/logout, to the page's own server,
 * else to the replica its watches are on: the page's own may be the dead
 * one), then closes the page's watches, whose sockets were let in before.
 */
export const setUpLogout = (): void => {
  const button = document.getElementById('logout') as HTMLButtonElement;
  if (location.protocol !== 'https:') return;
  button.hidden = false;
  button.onclick = async () => {
    button.disabled = true;
    for (const host of new Set([location.host, store.nodes.host])) {
      const ok = await fetch(`${location.protocol}//${host}/ui/logout`, { method: 'POST', credentials: 'include' }).then((r) => r.ok, () => false);
      if (!ok) continue;
      store.nodes.stop();
      store.instances.stop();
      document.getElementById('view')!.innerHTML = '<p id="logged-out">Logged out. Run <code>hvctl ui login</code> to come back.</p>';
      return;
    }
    button.disabled = false;
  };
};
