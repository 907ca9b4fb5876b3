import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Sent in the container's network namespace: five rounds of gratuitous ARP from each of its
 * NICs (its MAC and address), 50 ms then 100 ms more apart each, as QEMU's announce-self does
 * for a guest that has moved (QEMU sends RARP; a port's anti-spoofing lets only IPv4 and ARP
 * from its own MAC and address through, so ARP it is). A container made on another host sends
 * nothing by itself, and bridges that learned its MAC at their VXLAN port while it ran
 * elsewhere would send its frames there until that entry aged out (300 s); the broadcast
 * teaches every bridge its new place.
 */
const SCRIPT = `
import fcntl, socket, struct, time
out = []
# if_nameindex asks the kernel (netlink), so it sees this namespace; /sys would show the one it was mounted in.
for _, name in socket.if_nameindex():
    if name == 'lo':
        continue
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((name, 0))
    info = fcntl.ioctl(s.fileno(), 0x8927, struct.pack('256s', name.encode()[:15]))  # SIOCGIFHWADDR
    if struct.unpack('<H', info[16:18])[0] != 1:  # ARPHRD_ETHER only
        continue
    mac = info[18:24]
    try:
        ip = fcntl.ioctl(s.fileno(), 0x8915, struct.pack('256s', name.encode()[:15]))[20:24]  # SIOCGIFADDR
    except OSError:
        ip = bytes(4)  # no address yet: an ARP probe, which anti-spoofing lets through too
    arp = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, mac, ip, bytes(6), ip)
    frame = b'\\xff' * 6 + mac + struct.pack('!H', 0x0806) + arp
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
