"""A client of the hypervisor.v1 API from another stack: Python stubs that protoc and
grpc_python_plugin made from proto/, gRPC's C core with BoringSSL, the administrator's
certificate. It does what an integrator's first script does and prints what it saw as
one JSON document; test/proto/foreign-client.test.ts judges it.

Usage: python3 foreign_client.py <stubs dir> <address> <ca> <cert> <key>
"""
import importlib.util
import json
import os
import sys
import threading

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402
from google.protobuf import empty_pb2, json_format  # noqa: E402
from hypervisor.audit.v1 import audit_pb2, audit_pb2_grpc  # noqa: E402
from hypervisor.v1 import cluster_pb2, cluster_pb2_grpc, common_pb2, compute_pb2, compute_pb2_grpc, network_pb2, network_pb2_grpc, storage_pb2, storage_pb2_grpc  # noqa: E402

address, ca, cert, key = sys.argv[2:6]


def read(path):
    with open(path, 'rb') as f:
        return f.read()


creds = grpc.ssl_channel_credentials(root_certificates=read(ca), private_key=read(key), certificate_chain=read(cert))
# The server's certificate is checked against the address as given (an IP: its IP SAN), by BoringSSL.
channel = grpc.secure_channel(address, creds)
cluster = cluster_pb2_grpc.ClusterServiceStub(channel)
network = network_pb2_grpc.NetworkServiceStub(channel)
compute = compute_pb2_grpc.ComputeServiceStub(channel)
storage = storage_pb2_grpc.StorageServiceStub(channel)
audit = audit_pb2_grpc.AuditServiceStub(channel)
report = {}


def code_of(call):
    try:
        call()
        return {'code': 'OK'}
    except grpc.RpcError as e:
        return {'code': e.code().name, 'details': e.details()}


# grpc.health.v1's messages: its package name is grpcio's own, so the module is loaded from its file.
spec = importlib.util.spec_from_file_location('health_pb2', os.path.join(sys.argv[1], 'grpc', 'health', 'v1', 'health_pb2.py'))
health_pb2 = importlib.util.module_from_spec(spec)
spec.loader.exec_module(health_pb2)
check = channel.unary_unary(
    '/grpc.health.v1.Health/Check',
    request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
    response_deserializer=health_pb2.HealthCheckResponse.FromString,
)
report['health'] = health_pb2.HealthCheckResponse.ServingStatus.Name(check(health_pb2.HealthCheckRequest(service=''), timeout=10).status)

GIB = 1 << 30


def register(hostname):
    return cluster.RegisterNode(
        cluster_pb2.RegisterNodeRequest(
            hostname=hostname,
            ip='198.18.7.1',
            port=50052,
            capacity=common_pb2.Resources(cpu_cores=8, memory_bytes=64 * GIB, disk_bytes=4096 * GIB),
            metadata=common_pb2.Metadata(labels={'lang': 'python'}),
            supported_instance_types=['vm'],
        ),
        timeout=10,
    )


first = register('py-node-1')
report['registered'] = {'node_id': first.node_id, 'heartbeat_interval_seconds': first.heartbeat_interval_seconds}
node = cluster.GetNode(cluster_pb2.GetNodeRequest(node_id=first.node_id), timeout=10)
report['node'] = {
    'hostname': node.hostname,
    'status': common_pb2.NodeStatus.Name(node.status),
    'memory_bytes': node.capacity.memory_bytes,
    'disk_bytes': node.capacity.disk_bytes,
    'labels': dict(node.metadata.labels),
    'created_at_seconds': node.created_at.seconds,
}
register('py-node-2')

# Every node, a page of one at a time, by the tokens the server hands out.
ids, token, pages = [], '', 0
while True:
    page = cluster.ListNodes(cluster_pb2.ListNodesRequest(page_size=1, page_token=token, label_selector={'lang': 'python'}), timeout=10)
    pages += 1
    ids += [n.id for n in page.nodes]
    token = page.next_page_token
    if not token or pages > 10:
        break
report['paged'] = {'ids': ids, 'pages': pages, 'total_count': page.total_count}

report['unknown_node'] = code_of(lambda: cluster.GetNode(cluster_pb2.GetNodeRequest(node_id='no-such-node'), timeout=10))
report['no_hostname'] = code_of(lambda: register(''))
report['bad_page_token'] = code_of(lambda: cluster.ListNodes(cluster_pb2.ListNodesRequest(page_token='not-a-token'), timeout=10))

# A watch: the current nodes first (ADDED), then each change as it is made.
watch = cluster.WatchNodes(cluster_pb2.WatchNodesRequest(), timeout=30)
seen = []
current = threading.Event()


def follow():
    try:
        for ev in watch:
            seen.append({'type': common_pb2.EventType.Name(ev.type), 'hostname': ev.node.hostname, 'revision': ev.revision})
            if {'py-node-1', 'py-node-2'} <= {s['hostname'] for s in seen}:
                current.set()
            if ev.node.hostname == 'py-node-3':
                break
    except grpc.RpcError as e:
        seen.append({'error': e.code().name})
    current.set()


follower = threading.Thread(target=follow)
follower.start()
current.wait(timeout=30)
register('py-node-3')
follower.join(timeout=30)
watch.cancel()
report['watched'] = seen

info = cluster.GetClusterInfo(empty_pb2.Empty(), timeout=10)
report['cluster'] = {'total_nodes': info.total_nodes, 'memory_bytes': info.total_capacity.memory_bytes}

# Networks: create, a subnet, an address; the same request again with its x-request-id answers as the first.
net = network.CreateNetwork(network_pb2.CreateNetworkRequest(name='py-net', type=network_pb2.NETWORK_TYPE_VXLAN), timeout=10).network
subnet = network.CreateSubnet(network_pb2.CreateSubnetRequest(name='py-a', network_id=net.id, cidr='10.77.0.0/24', enable_dhcp=True), timeout=10).subnet
ask = network_pb2.AllocateIPRequest(subnet_id=subnet.id, hostname='py-host')
once = network.AllocateIP(ask, timeout=10, metadata=[('x-request-id', 'py-retry-1')]).allocation
again = network.AllocateIP(ask, timeout=10, metadata=[('x-request-id', 'py-retry-1')]).allocation
other = network.AllocateIP(ask, timeout=10, metadata=[('x-request-id', 'py-retry-2')]).allocation
report['network'] = {'type': network_pb2.NetworkType.Name(net.type), 'vni': net.vni, 'gateway': subnet.gateway_ip}
report['allocations'] = {'once': once.ip_address, 'again': again.ip_address, 'other': other.ip_address}
report['reused_id'] = code_of(
    lambda: network.AllocateIP(network_pb2.AllocateIPRequest(subnet_id=subnet.id, hostname='else'), timeout=10, metadata=[('x-request-id', 'py-retry-1')])
)
report['bad_cidr'] = code_of(lambda: network.CreateSubnet(network_pb2.CreateSubnetRequest(name='py-b', network_id=net.id, cidr='10.77.0.0/33'), timeout=10))

# The other services: what a first look and a first mistake get.
listed = compute.ListInstances(compute_pb2.ListInstancesRequest(page_size=10), timeout=10)
report['instances'] = {'count': len(listed.instances), 'total_count': listed.total_count}
report['specless_instance'] = code_of(lambda: compute.CreateInstance(compute_pb2.CreateInstanceRequest(type=common_pb2.INSTANCE_TYPE_VM), timeout=10))
report['empty_volume'] = code_of(lambda: storage.CreateVolume(storage_pb2.CreateVolumeRequest(name='py-vol', size_bytes=0), timeout=10))

# The audit trail: the first node's registration, its data a google.protobuf.Struct; its state at that revision (a oneof).
events = audit.ListEvents(audit_pb2.ListEventsRequest(aggregate_type='node', aggregate_id=first.node_id), timeout=10).events
report['audit'] = [{'type': e.type, 'revision': e.revision, 'actor': e.actor, 'data': json_format.MessageToDict(e.data)} for e in events]
at = audit.GetStateAt(audit_pb2.GetStateAtRequest(aggregate_type='node', aggregate_id=first.node_id, revision=events[0].revision), timeout=10)
report['state_at'] = {'exists': at.exists, 'revision': at.revision, 'hostname': json_format.MessageToDict(at.state).get('hostname')}

print(json.dumps(report))
