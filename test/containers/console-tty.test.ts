import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ConsoleSession, createRequest, MiB, type SpecInput } from '../support/compute';
import { call, rejectsWith } from '../support/control-plane';
import { HVCTL, isolatedEnv } from '../support/hvctl';
import { TmuxTerminal } from '../support/tmux';
import { ContainerLab } from './support/lab';

const CONTAINER = InstanceType.INSTANCE_TYPE_CONTAINER;

describe('container consoles with and without a tty (metadata.annotations["hypervisor.tty"]), end to end through the gRPC client', function () {
  this.timeout(120_000);
  const lab = new ContainerLab();
  const consoles: ConsoleSession[] = [];
  const attach = (id: string, tty = true) => {
    const con = new ConsoleSession(lab.c, id, undefined, tty);
    consoles.push(con);
    return con;
  };
  const container = async (name: string, tty: string | undefined, s: SpecInput) => {
    const { id } = await call(lab.c, lab.c.createInstance, createRequest(name, CONTAINER, { image: lab.ref, memoryBytes: 64 * MiB, ...s }, { metadata: { labels: {}, annotations: tty ? { 'hypervisor.tty': tty } : {} } }));
    const settled = await lab.watch.settled(id, 60_000);
    assert.equal(InstanceState[settled.state], 'INSTANCE_STATE_RUNNING', settled.stateReason);
    return id;
  };

  before(() => lab.start());
  after(async () => {
    for (const con of consoles) con.close();
    await lab.stop();
  });

  it('refuses an unknown hypervisor.tty value with INVALID_ARGUMENT naming the key', async () => {
    await rejectsWith(
      call(lab.c, lab.c.createInstance, createRequest('tty-bad', CONTAINER, { image: lab.ref }, { metadata: { labels: {}, annotations: { 'hypervisor.tty': 'maybe' } } })),
      status.INVALID_ARGUMENT,
      /metadata\.annotations\["hypervisor\.tty"\]: "maybe" is not true or false/,
    );
  });

  it('without a tty, `cat` gives back exactly the bytes sent: every byte value, \\n and \\r untranslated, no echo, resizes ignored', async () => {
    const id = await container('notty-cat', 'false', { command: ['/bin/cat'] });
    const con = attach(id, false);
    // Every byte value, with the ones a pty's line discipline would act on (^C, ^D, ^Z, CR, NL) among them.
    const first = Buffer.from([...Array.from({ length: 256 }, (_, i) => i), 0x0a, 0x0d, 0x03, 0x04, 0x1a, 0x0a]);
    con.type(first);
    con.resize(120, 40);
    assert.ok(await con.waitForBytes(first.length, 10_000), `got ${con.length} of ${first.length} bytes`);
    assert.equal(con.headers?.get('x-console-tty')[0], 'false');
    // A second write and its answer: had anything been echoed, it would stand between them.
    const second = Buffer.from('second\nline\r\n');
    con.type(second);
    assert.ok(await con.waitForBytes(first.length + second.length, 10_000));
    assert.ok(con.bytes.equals(Buffer.concat([first, second])), `output differs from input: ${con.bytes.toString('hex')}`);
  });

  it('without a tty, a shell: stdout and stderr both arrive, \\n stays \\n, no terminal and no TERM; a later attach replays the output', async () => {
    const id = await container('notty-sh', 'false', { command: ['/bin/sh'], args: ['-c', 'echo early-output; exec /bin/sh'] });
    const con = attach(id, false);
    assert.ok(await con.waitFor('early-output\n', 10_000), con.text);
    const out = await con.run('tty; echo "term=[$TERM]"; echo to-stderr >&2; printf "a\\nb\\n"');
    assert.match(out, /not a tty\n/);
    assert.match(out, /term=\[\]\n/);
    assert.match(out, /to-stderr\n/);
    assert.match(out, /a\nb\n/);
    assert.doesNotMatch(out, /\r/, 'no CR added');
    assert.doesNotMatch(out, /printf/, 'the command is not echoed');
    con.close();
    const later = attach(id, false);
    assert.ok(await later.waitFor('early-output\nnot a tty\n', 10_000), later.text);
  });

  it('with a tty (the default): a pty that echoes, translates \\n to \\r\\n and takes the window size; a client asking for no tty still gets the terminal', async () => {
    const id = await container('tty-sh', undefined, { command: ['/bin/sh'] });
    const con = attach(id);
    con.resize(100, 30);
    const out = await con.run('tty; stty size');
    assert.equal(con.headers?.get('x-console-tty')[0], 'true');
    assert.match(out, /\/dev\/(pts\/\d+|console)\r\n/);
    assert.match(out, /30 100\r\n/);
    assert.match(out, /stty size/, 'the terminal echoes the command line');
    const other = attach(id, false);
    const out2 = await other.run('tty');
    assert.equal(other.headers?.get('x-console-tty')[0], 'true');
    assert.match(out2, /\/dev\/(pts\/\d+|console)\r\n/);
  });

  it('hvctl instance console on a container without a tty leaves the terminal cooked: local echo and line editing, Enter sends \\n', async () => {
    const id = await container('notty-hvctl', 'false', { command: ['/bin/cat'] });
    const term = new TmuxTerminal(lab.token);
    try {
      term.start([process.execPath, HVCTL, '--server', lab.t.address, 'instance', 'console', id], { HVCTL_CONFIG: isolatedEnv().HVCTL_CONFIG!, ...lab.t.hvctlTls });
      await term.waitFor(/attached to instance .* \(Ctrl-\] then q leaves\)/);
      // The line discipline echoes it (raw mode would not), cat sends it back once Enter gives it a \n.
      term.type('hello-cooked');
      term.keys('Enter');
      await term.waitFor(/^hello-cooked\s*\nhello-cooked\s*$/m);
      term.keys('C-]');
      term.type('q');
      term.keys('Enter');
      assert.equal(await term.waitForExit(), 0, term.screen());
    } finally {
      term.stop();
    }
  });
});
