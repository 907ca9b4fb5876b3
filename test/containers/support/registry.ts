import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../../src/nats/embedded-nats-server';
import { fetchPolicy } from '../../../src/images/fetch';

/** The fetch policy a test registry needs: it is on loopback, which the policy refuses unless the operator allows it. */
export const LOOPBACK_ALLOWED = fetchPolicy({ imageAllowCidrs: ['127.0.0.0/8'] });

/** A token for everything one test run makes (cgroups, repositories, dirs), so parallel runs never collide. */
export const runToken = (): string => `hvt${randomBytes(2).toString('hex')}`;

/**
 * Debian's docker-registry (the CNCF distribution registry), started on a
 * free port (on loopback unless told) with a storage dir of its own, removed on stop.
 */
export class LocalRegistry {
  private child?: ChildProcess;
  /** Made by start(), so loading a test file creates nothing. */
  dir = '';
  port = 0;
  log = '';

  /** host: where it listens (loopback, or a namespace lab's root address for agents in host namespaces). */
  constructor(readonly host = '127.0.0.1') {}

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  async start(): Promise<this> {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'hv-registry-'));
    this.port = await freePort(this.host);
    const config = path.join(this.dir, 'config.yml');
    writeFileSync(
      config,
      ['version: 0.1', 'log:', '  level: warn', 'storage:', '  filesystem:', `    rootdirectory: ${path.join(this.dir, 'data')}`, 'http:', `  addr: ${this.address}`, ''].join('\n'),
    );
    this.child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d) => (this.log += d));
    this.child.stderr!.on('data', (d) => (this.log += d));
    const deadline = Date.now() + 15_000;
    for (;;) {
      const ok = await fetch(`http://${this.address}/v2/`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return this;
      if (this.child.exitCode !== null) throw new Error(`docker-registry exited: ${this.log}`);
      if (Date.now() > deadline) throw new Error(`docker-registry did not answer within 15 s: ${this.log}`);
      await sleep(50);
    }
  }

  /** Pushes an OCI layout's tagged image as <repository>:<tag>. */
  push(layout: string, tag: string, repository: string, destTag: string): void {
    execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:${tag}`, `docker://${this.address}/${repository}:${destTag}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  /** The file the registry serves a blob from (its filesystem driver's layout). */
  blobFile(digest: string): string {
    const hex = digest.replace(/^sha256:/, '');
    return path.join(this.dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
  }

  /** Flips bytes of a stored blob in place: the registry keeps serving it under its old digest. */
  corruptBlob(digest: string): () => void {
    const f = this.blobFile(digest);
    const orig = readFileSync(f);
    const bad = Buffer.from(orig);
    for (let i = 0; i < 16 && i < bad.length; i++) bad[Math.floor(bad.length / 2) + i - 8] ^= 0xff;
    writeFileSync(f, bad);
    return () => writeFileSync(f, orig);
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Files under a dir, recursively (a cache must hold none after a failed pull). */
export const filesUnder = (dir: string): string[] => {
  let out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    const p = path.join(dir, n);
    out = statSync(p).isDirectory() ? [...out, p, ...filesUnder(p)] : [...out, p];
  }
  return out;
};
