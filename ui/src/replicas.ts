/**
 * The web consoles of the cluster's server replicas (host:port), as this
 * page's server lists them (GET api/replicas, from the replica registry
 * `hvctl cluster info` shows). A watch whose replica stops answering goes
 * to the next one and resumes there from its last revision; every replica
 * serves the same log, so the page sees no gap and no repeat. Starts with
 * the page's own server alone; when that one is gone, the list last read
 * is what is left to try.
 */
class Replicas {
  private hosts: string[] = [location.host];

  get count(): number {
    return this.hosts.length;
  }

  /** The replica after `host` in the list (itself when it is the only one). */
  after(host: string): string {
    const i = this.hosts.indexOf(host);
    return this.hosts[(i + 1) % this.hosts.length];
  }

  async refresh(): Promise<void> {
    try {
      const res = await fetch('api/replicas', { headers: { accept: 'application/json' } });
      if (!res.ok) return;
      const { replicas } = (await res.json()) as { replicas?: string[] };
      // The page's own server first, the rest in the registry's order (the same on every replica).
      if (replicas?.length) this.hosts = [...new Set([location.host, ...replicas])];
    } catch {
      // Unreachable: keep the list as last read.
    }
  }
}

export const replicas = new Replicas();
