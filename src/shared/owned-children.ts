import type { ChildProcess } from 'node:child_process';

const owned = new Set<ChildProcess>();
let hooked = false;

/**
 * A child that must not outlive this process (the embedded nats-server, a KVM
 * probe's QEMU), unlike instances, which are meant to. A graceful stop ends it
 * in order; this covers every other way out (a crash, process.exit after a
 * stop that took too long): the 'exit' hook runs synchronously, and a signal
 * is all that can be sent from there.
 */
export const endsWithThisProcess = <C extends ChildProcess>(child: C): C => {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const c of owned) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    });
  }
  owned.add(child);
  child.once('exit', () => owned.delete(child));
  return child;
};
