import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { nodePkiFiles } from '../../src/agent/node-credentials';
import { AuditServiceClient, ListEventsRequest } from '../../src/gen/hypervisor/audit/v1/audit';
import { call, until } from '../support/control-plane';
import { DataplaneLab } from '../dataplane/support';

/**
 * Issue 27's "a host joins with a token and runs a VM with a network": a
 * host in a network namespace joins a control plane in network mode with a
 * token (DataplaneLab joins every agent so), then runs the real test guest in
 * QEMU (the accelerator the machine offers: --accel auto) with a port on a
 * VXLAN network. Its only way in is its own certificate: gRPC takes it as
 * node:<host> (node restriction), and the embedded NATS, which requires
 * TLS and a certificate of the cluster CA on every connection, maps it to
 * that node's user. The VM is RUNNING and its port ACTIVE as that node
 * reported them.
 */
describe('a host joined with a token runs a VM with a network (namespace host, confined NATS, node-restricted gRPC)', function () {
  this.timeout(240_000);
  const t = DataplaneLab.forSuite(1, { agentArgs: ['--accel', 'auto'], registerWithinMs: 90_000 });

  it('the host holds its own key and certificate node:<host> (0600) and reaches NATS over TLS; the server is in network mode with NATS confined', () => {
    assert.equal(t.cp.cp.security?.mode, 'network');
    assert.ok(t.cp.cp.nats?.confined, 'the embedded NATS is confined (verify_and_map)');
    const f = nodePkiFiles(t.agents[0].stateDir);
    for (const file of [f.key, f.cert, f.ca, f.natsUrl]) assert.equal(statSync(file).mode & 0o777, 0o600, file);
    assert.match(readFileSync(f.natsUrl, 'utf8'), /^tls:\/\//);
    const cert = new X509Certificate(readFileSync(f.cert));
    assert.match(cert.subject, new RegExp(`CN=node:${t.lab.hosts[0].name}$`, 'm'));
    assert.ok(cert.checkIssued(new X509Certificate(t.cp.cp.security!.pki.ca.certPem)), 'issued by the cluster CA');
    const conf = readFileSync(t.cp.cp.nats!.confined!.file!, 'utf8');
    assert.ok(conf.includes(`node:${t.lab.hosts[0].name}`), `the NATS authorization names the node:\n${conf}`);
  });

  it('it runs the test guest in QEMU with a port on a network: RUNNING, port ACTIVE, as reported by node:<host>', async () => {
    const { network, subnet } = await t.network('joined-net', '10.92.0.0/24');
    const vm = await t.vm('joined-vm', 0, network.id, subnet.id);
    const con = await t.console(vm.id);
    assert.match(await t.lease(con), new RegExp(`LEASE ip=${vm.ipAddress.replace(/\./g, '\\.')}/24 mtu=1400`), "the guest leased its port's address by DHCP");
    const port = await until('port ACTIVE', async () => {
      const p = (await t.net.rpc('listPorts', { instanceId: vm.id, pageSize: 10 })).ports[0];
      return p?.status === 'ACTIVE' ? p : undefined;
    }, 60_000);
    const audit = t.cp.client(AuditServiceClient);
    const reports = await call(audit, audit.listEvents, ListEventsRequest.fromPartial({ aggregateType: 'port', aggregateId: port.id, types: ['PortStatusReported'], pageSize: 100 }));
    const active = reports.events.filter((e) => e.data?.status === 'ACTIVE');
    assert.ok(active.length > 0, 'ACTIVE was reported');
    assert.deepEqual([...new Set(active.map((e) => e.actor))], [`node:${t.lab.hosts[0].name}`], 'by the joined node, under its own identity');
    await t.deleteInstance(vm.id);
  });
});
