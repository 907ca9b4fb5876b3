import assert from 'node:assert/strict';
import { Command } from 'commander';
import { integer, list, type Options, text, toggle } from './option';
import { fromEnvironment, OptionError, readOptions } from './read';
import { agentOptions, serverOptions } from './table';

const quiet = () =>
  new Command()
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
const read = <O extends Options>(o: O, argv: string[], env: Record<string, string> = {}) => readOptions(o, argv, env, quiet());
const refuses = (fn: () => unknown, message: RegExp) => assert.throws(fn, (e: unknown) => e instanceof OptionError && message.test((e as Error).message));

describe('options', () => {
  describe('the server table', () => {
    it('gives the defaults when nothing is set', () => {
      const c = read(serverOptions, [], { HOME: '/home/x' });
      assert.equal(c.grpcPort, 50051);
      assert.equal(c.natsUrl, undefined);
      assert.equal(c.feed, true);
      assert.equal(c.agent, undefined);
      assert.deepEqual(c.agentDrivers, ['qemu', 'oci']);
      assert.equal(c.schedulerWeigher, 'spread');
    });

    it('leaves evacuation off unless --evacuate-after (or HV_EVACUATE_AFTER_SECONDS) is set', () => {
      assert.equal(read(serverOptions, []).evacuateAfterSeconds, 0);
      assert.equal(read(serverOptions, ['--evacuate-after', '120']).evacuateAfterSeconds, 120);
      assert.equal(read(serverOptions, [], { HV_EVACUATE_AFTER_SECONDS: '300' }).evacuateAfterSeconds, 300);
      refuses(() => read(serverOptions, ['--evacuate-after', '2m']), /--evacuate-after.*not a number of seconds/);
    });

    it('takes a flag over its environment variable over the default', () => {
      assert.equal(read(serverOptions, [], { HV_GRPC_PORT: '7000' }).grpcPort, 7000);
      assert.equal(read(serverOptions, ['--grpc-port', '7001'], { HV_GRPC_PORT: '7000' }).grpcPort, 7001);
    });

    it('refuses a bad number, naming where it came from, instead of NaN', () => {
      refuses(() => read(serverOptions, ['--grpc-port', 'abc']), /--grpc-port.*"abc" is not an integer/);
      refuses(() => read(serverOptions, [], { HV_HTTP_PORT: '70000' }), /^HV_HTTP_PORT: 70000 is not between 0 and 65535/);
      refuses(() => read(serverOptions, [], { HV_LEASE_TTL_SECONDS: '0' }), /HV_LEASE_TTL_SECONDS: must be more than 0/);
      refuses(() => read(serverOptions, ['--heartbeat-interval', '1s']), /--heartbeat-interval.*not a number of seconds/);
      refuses(() => read(serverOptions, [], { HV_SCHEDULER_WEIGHER: 'random' }), /HV_SCHEDULER_WEIGHER: "random" is not one of spread, binpack/);
      refuses(() => read(serverOptions, [], { HV_FEED: 'maybe' }), /HV_FEED: "maybe"/);
    });

    it('turns a switch off by flag or by environment variable', () => {
      assert.equal(read(serverOptions, ['--no-feed']).feed, false);
      assert.equal(read(serverOptions, [], { HV_FEED: '0' }).feed, false);
      assert.equal(read(serverOptions, ['--no-snapshots']).snapshots, false);
    });

    it('leaves --agent undecided unless one of --agent and --no-agent is given', () => {
      assert.equal(read(serverOptions, ['--agent']).agent, true);
      assert.equal(read(serverOptions, ['--no-agent']).agent, false);
    });

    it('reads the embedded agent with the agent options under --agent-… and the same environment', () => {
      const c = read(serverOptions, ['--agent-port', '6000', '--agent-driver', 'qemu', 'hollow'], { HV_QEMU_ACCEL: 'tcg' });
      assert.equal(c.agentPort, 6000);
      assert.deepEqual(c.agentDrivers, ['qemu', 'hollow']);
      assert.equal(c.agentAccel, 'tcg');
      assert.equal(read(serverOptions, [], { HV_AGENT_PORT: '6001' }).agentPort, read(agentOptions, [], { HV_AGENT_PORT: '6001' }).port);
      refuses(() => read(serverOptions, ['--agent-accel', 'xen']), /--agent-accel.*"xen" is not one of auto, kvm, tcg/);
    });
  });

  describe('the agent table', () => {
    it('collects repeated labels and comma-separated drivers', () => {
      const c = read(agentOptions, ['--label', 'rack=a1', '--label', 'gpu=', '--label', 'k=v=w'], { HV_AGENT_DRIVERS: 'qemu,hollow' });
      assert.deepEqual(c.labels, { rack: 'a1', gpu: '', 'k': 'v=w' });
      assert.deepEqual(c.drivers, ['qemu', 'hollow']);
      refuses(() => read(agentOptions, ['--label', 'novalue']), /--label.*"novalue" is not key=value/);
    });

    it('puts the state under the data dir when only HV_DATA_DIR is set', () => {
      assert.equal(read(agentOptions, [], { HV_DATA_DIR: '/srv/hv' }).stateDir, '/srv/hv/agent');
      assert.equal(read(agentOptions, [], { HV_DATA_DIR: '/srv/hv', HV_AGENT_STATE_DIR: '/var/a' }).stateDir, '/var/a');
    });

    it('refuses an advertise address that is not an IP and an empty server', () => {
      refuses(() => read(agentOptions, ['--advertise-ip', 'host.example']), /--advertise-ip.*not an IP address/);
      refuses(() => read(agentOptions, ['--server', ' ']), /--server.*must not be empty/);
      refuses(() => read(agentOptions, ['--cpus', '0']), /--cpus.*0 is not between 1 and/);
    });

    it('leaves the capacity flags undefined when not given', () => {
      const c = fromEnvironment(agentOptions, {});
      assert.equal(c.cpus, undefined);
      assert.equal(c.memoryMib, undefined);
    });
  });

  describe('a new option', () => {
    // The other binaries' options are entries like these: one line gives flag, environment variable, parser, default and type.
    const table = {
      tunnelIp: text({ flag: '--tunnel-ip <ip>', env: 'HV_TUNNEL_IP', help: 'tunnel source' }),
      interfaces: list({ flag: '--physical-interface <name>', help: 'uplink (repeatable)', default: [] }),
      mtu: integer({ env: 'HV_MTU', help: 'mtu', min: 68, default: 1500 }),
      dryRun: toggle({ flag: '--dry-run', help: 'do nothing', default: false }),
    };

    it('is read from its flag, repeat by repeat, or its environment', () => {
      const c = read(table, ['--physical-interface', 'eth0', '--physical-interface', 'eth1', '--dry-run'], { HV_TUNNEL_IP: '198.18.0.1', HV_MTU: '9000' });
      assert.deepEqual(c, { tunnelIp: '198.18.0.1', interfaces: ['eth0', 'eth1'], mtu: 9000, dryRun: true });
      refuses(() => read(table, [], { HV_MTU: '9000.5' }), /HV_MTU: "9000.5" is not an integer/);
    });
  });
});
