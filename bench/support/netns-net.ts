import { spawn } from 'node:child_process';
import { HostRunner } from '../../src/sdn/run';

const root = new HostRunner();

/** ping's own summary: min/avg/max in ms. */
export const rttOf = (out: string) => {
  const m = /min\/avg\/max(?:\/mdev)? = ([\d.]+)\/([\d.]+)\/([\d.]+)/.exec(out);
  if (!m) throw new Error(`no ping summary in: ${out}`);
  return { min: Number(m[1]), avg: Number(m[2]), max: Number(m[3]) };
};

/** RTT of 50 pings 100 ms apart from network namespace `from` to `ip`. */
export const nsRtt = async (from: string, ip: string) => rttOf(await root.in(from).run('ping', ['-c', '50', '-i', '0.1', '-q', ip]));

/**
 * TCP throughput (bits per second, as the receiver counted them) from
 * namespace `from` to an iperf3 server in namespace `to` at `ip`: one stream
 * for `seconds`, the kernel's path end to end with no copying tool in the way.
 */
export const iperf = async (from: string, to: string, ip: string, seconds = 3): Promise<number> => {
  const server = spawn('ip', ['netns', 'exec', to, 'iperf3', '-s', '-1', '-p', '5201'], { stdio: ['ignore', 'ignore', 'ignore'] });
  try {
    // The server has no readiness signal; a client too early is refused and tries again.
    let last = '';
    for (let i = 0; ; i++) {
      // iperf3 -J prints its report, or an error, as JSON on stdout; a failure's exit status carries it too.
      const out = await root
        .in(from)
        .run('iperf3', ['-c', ip, '-p', '5201', '-t', String(seconds), '-J'])
        .catch((e: { stdout?: string; message: string }) => e.stdout ?? e.message);
      let r: { error?: string; end?: { sum_received?: { bits_per_second: number } } } = {};
      try {
        r = JSON.parse(out);
      } catch {
        r = { error: out };
      }
      if (r.end?.sum_received) return r.end.sum_received.bits_per_second;
      last = r.error ?? out;
      if (i === 30) throw new Error(`iperf3 from ${from} to ${ip}: ${last}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    server.kill();
  }
};

/**
 * Bytes per second through busybox nc from namespace `from` to a listener in
 * namespace `to` at `ip`, timed by the sender: the same tool the test guests
 * have, for a floor that compares with them. The listener's stdin stays open
 * (busybox nc ends the connection when its stdin ends).
 */
export const ncThroughput = async (from: string, to: string, ip: string, bytes: number): Promise<number> => {
  const server = spawn('ip', ['netns', 'exec', to, 'busybox', 'nc', '-l', '-p', '5001'], { stdio: ['pipe', 'ignore', 'ignore'] });
  try {
    for (let i = 0; ; i++) {
      const t0 = process.hrtime.bigint();
      const ok = await root.in(from).run('sh', ['-c', `head -c ${bytes} /dev/zero | busybox nc ${ip} 5001`]).then(() => true, () => false);
      if (ok) return bytes / (Number(process.hrtime.bigint() - t0) / 1e9);
      if (i === 30) throw new Error(`nc from ${from} to ${ip}:5001 never connected`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    server.kill();
  }
};

export const mbps = (bitsPerSecond: number) => `${(bitsPerSecond / 1e6).toFixed(0)} Mbit/s`;
