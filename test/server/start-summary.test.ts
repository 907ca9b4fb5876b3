import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { prettyLogs } from '../../src/shared/logger';
import { startSummary } from '../../src/server/start-summary';
import { NetnsHosts } from '../support/netns-hosts';
import { NpmStart, REPO } from '../support/npm-start';
import { TmuxTerminal } from '../support/tmux';
import { until } from '../support/until';

describe('the start says where to go (issue 19, item 3)', function () {
  this.timeout(180_000);

  describe('startSummary and the log format', () => {
    it('names gRPC, the web console, NATS, the host\'s accelerator and drivers, and what to try next', () => {
      const text = startSummary({
        grpc: '127.0.0.1:50051',
        http: '127.0.0.1:8080',
        ui: 'http://127.0.0.1:8080/ui/',
        nats: 'nats://127.0.0.1:4222',
        agent: { hostname: 'vm', kinds: ['vm', 'microvm'], accel: { status: 'tcg', reason: 'kvm-unavailable: /dev/kvm is not usable' } },
      }).join('\n');
      for (const s of ['127.0.0.1:50051', 'http://127.0.0.1:8080/ui/', 'nats://127.0.0.1:4222', 'tcg (kvm-unavailable', 'runs vm, microvm', 'hvctl node list']) assert.ok(text.includes(s), `${s} in\n${text}`);
    });

    it('says so when no agent runs here, and leaves out a console that is off', () => {
      const text = startSummary({ grpc: '127.0.0.1:1', http: '127.0.0.1:2', nats: 'nats://h:4222' }).join('\n');
      assert.match(text, /no agent here/);
      assert.doesNotMatch(text, /web console/);
    });

    it('auto is pretty on a terminal and JSON off one; pretty and json are taken as said', () => {
      assert.deepEqual(
        [prettyLogs('auto', true), prettyLogs('auto', false), prettyLogs('pretty', false), prettyLogs('json', true)],
        [true, false, true, false],
      );
    });
  });

  describe('npm start on a namespace host (the real default ports)', () => {
    let lab: NetnsHosts;
    let run: NpmStart | undefined;
    before(async () => {
      lab = await NetnsHosts.create(1);
    });
    afterEach(async () => {
      await run?.cleanup();
      run = undefined;
    });
    after(async () => {
      await lab?.cleanup();
    });

    it('off a terminal: JSON lines, no "NATS connection back" at the first connect, and one "hypervisor is ready" line with where everything is', async () => {
      run = NpmStart.spawn(lab.hosts[0], [], { HV_QEMU_ACCEL: 'tcg' });
      await run.waitFor(/hypervisor is ready/);
      const ready = run.lines().find((l) => l.msg === 'hypervisor is ready') as Record<string, unknown> & { agent: { hostname: string; kinds: string[]; accel: { status: string } } };
      assert.equal(ready.grpc, '127.0.0.1:50051');
      assert.equal(ready.ui, 'http://127.0.0.1:8080/ui/');
      assert.equal(ready.nats, 'nats://127.0.0.1:4222');
      assert.equal(ready.agent.hostname, lab.hosts[0].name);
      assert.equal(ready.agent.accel.status, 'tcg');
      assert.ok(ready.agent.kinds.includes('vm'), JSON.stringify(ready.agent));
      assert.ok(!/NATS connection back/.test(run.log), run.log);
      // The console it names answers there.
      const page = await lab.hosts[0].run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:8080/ui/']);
      assert.equal(page.trim(), '200');
      process.kill(-run.pgid, 'SIGTERM');
      await run.ended();
    });

    it('on a terminal: readable lines and the summary in words; Ctrl-C stops everything', async () => {
      const term = new TmuxTerminal(lab.token);
      const dir = execFileSync('mktemp', ['-d', '/tmp/hv-npm-start-XXXXXX'], { encoding: 'utf8' }).trim();
      try {
        term.start(['env', '-C', REPO, ...lab.hosts[0].wrap(['npm', 'start'])], { HV_DATA_DIR: dir, HV_AGENT_HOSTNAME: lab.hosts[0].name, HV_QEMU_ACCEL: 'tcg' }, 160, 50);
        const screen = await term.waitFor(/try next/, 90_000);
        assert.match(screen, /web console\s+http:\/\/127\.0\.0\.1:8080\/ui\//);
        assert.match(screen, /accelerator\s+tcg/);
        assert.match(screen, /INFO.*started embedded nats-server/);
        assert.doesNotMatch(screen, /^\{"level"/m, 'no JSON lines on a terminal');
        // Ctrl-C: SIGINT to the terminal's foreground group (npm, node; the pane's shell ends with them).
        term.keys('C-c');
        await term.waitFor(/INFO: stopped/, 60_000);
        await until('nothing left in the namespace', () => execFileSync('ip', ['netns', 'pids', lab.hosts[0].name], { encoding: 'utf8' }).trim() === '', 30_000);
      } finally {
        term.stop();
        execFileSync('rm', ['-rf', dir]);
      }
    });
  });
});
