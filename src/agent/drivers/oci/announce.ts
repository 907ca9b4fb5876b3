import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Sent in the container's network namespace: five rounds of RARP from each of its NICs, with
 * its MAC, 50 ms then 100 ms more apart each, as QEMU's announce-self does for a guest that
 * has moved. A container made on another host sends nothing by itself, and bridges that
 * learned its MAC at their VXLAN port while it ran elsewhere would send its frames there
 * until that entry aged out (300 s); the broadcast teaches every bridge its new place.
 */
const SCRIPT = `
import os, socket, struct, time
out = []
for name in sorted(os.listdir('/sys/class/net')):
    if name == 'lo':
        continue
    mac = bytes.fromhex(open('/sys/class/net/%s/address' % name).read().strip().replace(':', ''))
    if len(mac) != 6:
        continue
    arp = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 3, mac, bytes(4), mac, bytes(4))
    frame = b'\\xff' * 6 + mac + struct.pack('!H', 0x8035) + arp
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((name, 0))
    out.append((s, frame + bytes(60 - len(frame))))
delay = 0.05
for _ in range(5):
    for s, f in out:
        s.send(f)
    time.sleep(delay)
    delay += 0.1
`;

/** Announces the NICs of the network namespace at netnsPath (a path under /run/netns, or a process's). */
export const announceFrom = async (netnsPath: string, python: string): Promise<void> => {
  await run('nsenter', [`--net=${netnsPath}`, '--', python, '-c', SCRIPT], { timeout: 10_000 });
};
