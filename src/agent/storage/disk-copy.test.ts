import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isAlive } from '../../shared/process';
import { DiskServer, fetchFile, type ServeSettings } from './disk-copy';

/** Served on loopback, on a free port of 40100-40200 held until the server listens, as an agent serves. */
const loopback = (lifetimeMs: number): ServeSettings => ({ host: () => '127.0.0.1', portMin: 40100, portMax: 40200, lifetimeMs });
const img = (...args: string[]) => execFileSync('qemu-img', args, { encoding: 'utf8' });
const io = (file: string, cmd: string) => execFileSync('qemu-io', ['-f', 'qcow2', '-c', cmd, file], { encoding: 'utf8' });
/** Alive and not a zombie (a daemon's parent is whoever adopted it; it reaps it when it will). */
const alive = isAlive;
/**
 * Waits (20 s at most) for a server to be gone, its process and these files (qemu-storage-daemon
 * removes its pid file itself as it exits, before our end removes the rest): whether it is, the caller asserts.
 */
const gone = async (pid: number, ...files: string[]) => {
  const deadline = Date.now() + 20_000;
  while ((alive(pid) || files.some((f) => existsSync(f))) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
};

/**
 * The copy primitive of cold moves with real tools: qemu-storage-daemon serves a qcow2
 * overlay's file over NBD on loopback, qemu-img copies it and points it at another base.
 */
describe("a cold move's disk copy (real qemu-storage-daemon and qemu-img, loopback)", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hv-diskcopy-'));
  const src = path.join(dir, 'source');
  const dst = path.join(dir, 'target');
  const server = new DiskServer(path.join(src, 'servers'));
  after(async () => {
    await server.end('i-1');
    if (existsSync(path.join(src, 'restarted'))) await new DiskServer(path.join(src, 'restarted')).end('i-3');
    rmSync(dir, { recursive: true, force: true });
  });

  it("copies an overlay's own clusters onto the target's base, which the guest's data then reads through; the server ends", async () => {
    mkdirSync(dst, { recursive: true });
    const base = path.join(src, 'base.qcow2');
    img('create', '-q', '-f', 'qcow2', base, '16M');
    io(base, 'write -P 0x11 0 1M');
    const overlay = path.join(src, 'root.qcow2');
    img('create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', overlay, '16M');
    io(overlay, 'write -P 0x42 4M 64k');
    // The target's own cached base: the same content, elsewhere.
    const theirBase = path.join(dst, 'base.qcow2');
    copyFileSync(base, theirBase);

    const at = await server.serveOnFreePort('i-1', [{ name: 'disk-root', path: overlay }], loopback(60_000));
    const pid = Number(readFileSync(path.join(src, 'servers', 'i-1.pid'), 'utf8'));
    assert.ok(alive(pid), 'the server runs');
    const to = path.join(dst, 'root.qcow2');
    const seen: number[] = [];
    await fetchFile(at, 'disk-root', to, { base: { path: theirBase, format: 'qcow2' }, progress: (p) => seen.push(p) });

    const info = JSON.parse(img('info', '--output=json', to));
    assert.equal(info['backing-filename'], theirBase);
    assert.match(io(to, 'read -P 0x42 4M 64k'), /read 65536\/65536/, "the overlay's own data");
    assert.match(io(to, 'read -P 0x11 0 1M'), /read 1048576\/1048576/, "the base's data, through the target's base");
    assert.ok(info['actual-size'] < 1 << 20, `only the overlay travelled (${info['actual-size']} bytes on disk)`);
    assert.equal(seen.at(-1), 100);
    await server.end('i-1');
    assert.equal(alive(pid), false, 'the server has ended');
  });

  it('a name the source does not serve fails the copy and leaves no file, finished or partial', async () => {
    const plain = path.join(src, 'vol.qcow2');
    img('create', '-q', '-f', 'qcow2', plain, '1M');
    const at = await server.serveOnFreePort('i-1', [{ name: 'vol-1', path: plain }], loopback(60_000));
    const to = path.join(dst, 'vol-2.qcow2');
    await assert.rejects(fetchFile(at, 'vol-2', to), /qemu-img convert: .*vol-2/);
    assert.deepEqual(readdirSync(dst).filter((f) => f.startsWith('vol-2')), []);
    await server.end('i-1');
  });

  it('a server that no work ends goes by itself after its lifetime', async () => {
    const plain = path.join(src, 'left.qcow2');
    img('create', '-q', '-f', 'qcow2', plain, '1M');
    await server.serveOnFreePort('i-2', [{ name: 'vol-3', path: plain }], loopback(300));
    const pid = Number(readFileSync(path.join(src, 'servers', 'i-2.pid'), 'utf8'));
    assert.ok(alive(pid), 'the server runs');
    const pidFile = path.join(src, 'servers', 'i-2.pid');
    await gone(pid, pidFile, path.join(src, 'servers', 'i-2.ends-at'));
    assert.equal(alive(pid), false, 'the server ended by itself');
    assert.equal(existsSync(pidFile), false, 'its pid file is gone');
  });

  it("a stopping agent's server runs on, and the next agent's server ends it when its lifetime is up", async () => {
    const plain = path.join(src, 'carried.qcow2');
    img('create', '-q', '-f', 'qcow2', plain, '1M');
    const dir = path.join(src, 'restarted');
    const before = new DiskServer(dir);
    await before.serveOnFreePort('i-3', [{ name: 'vol-4', path: plain }], loopback(1_500));
    const pidFile = path.join(dir, 'i-3.pid');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    before.close();
    const after = new DiskServer(dir);
    await after.adopt();
    assert.ok(alive(pid), 'the server outlives the agent that started it');
    await gone(pid, pidFile, path.join(dir, 'i-3.ends-at'));
    assert.equal(alive(pid), false, 'the next agent ended it');
    assert.deepEqual(readdirSync(dir), [], 'its pid file and its end are gone');
  });

  it('a server the last agent left that has ended since: adopting removes its files', async () => {
    const dir = path.join(src, 'left-over');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'i-5.pid'), '999999999');
    writeFileSync(path.join(dir, 'i-5.ends-at'), String(Date.now() + 60_000));
    await new DiskServer(dir).adopt();
    assert.deepEqual(readdirSync(dir), []);
  });
});
