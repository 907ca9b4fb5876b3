#!/usr/bin/env bash
# Two hosts on one machine: network namespaces hvdemo-h1 and hvdemo-h2 on an
# underlay bridge (198.18.90.0/24, a benchmarking range no interface uses),
# with hypervisor-server in network mode (mutual TLS, its embedded NATS
# confined) and an image server (the test guest) in the root namespace on
# 198.18.90.1, and one hypervisor-agent per host namespace that joins with a
# token of its own (its state dir, --tunnel-ip, TCG). Every packet stays in the
# namespaces; no route is added for guest networks. The administrator's
# certificate is in /tmp/hvdemo/server/pki (admin.crt, admin.key, ca.crt).
#   scripts/two-hosts.sh up     build and start (logs and state in /tmp/hvdemo)
#   scripts/two-hosts.sh down   stop everything and remove it
set -euo pipefail
cd "$(dirname "$0")/.."
T=hvdemo
NET=198.18.90
DIR=/tmp/$T

down() {
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^($T-|hv-$T-)" || true); do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  done
  # dnsmasq runs in DHCP namespaces the agents made (named only inside their mount namespaces): by pid file.
  for f in "$DIR"/h*/network/dhcp/*/pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true; done
  [ -f "$DIR/pids" ] && while read -r p; do kill -9 "$p" 2>/dev/null || true; done <"$DIR/pids"
  # The server's embedded nats-server outlives a kill -9 of the server: by its pid file.
  f=$DIR/server/nats/nats-server.pid
  [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^($T-|hv-$T-)" || true); do ip netns del "$ns"; done
  ip link del "${T}r" 2>/dev/null || true
  rm -rf "$DIR"
}

up() {
  ip route | grep -q "^$NET\." && { echo "two-hosts: $NET.0/24 is in use (run: $0 down)" >&2; exit 1; }
  bash scripts/setup.sh >/dev/null
  mkdir -p "$DIR"
  ip netns add $T-sw
  ip -n $T-sw link add br0 type bridge && ip -n $T-sw link set br0 up
  ip link add ${T}r type veth peer name root netns $T-sw
  ip -n $T-sw link set root master br0 up
  ip addr add $NET.1/24 dev ${T}r && ip link set ${T}r up
  for i in 1 2; do
    ip netns add $T-h$i
    ip -n $T-sw link add h$i type veth peer name eth0 netns $T-h$i
    ip -n $T-sw link set h$i master br0 up
    ip -n $T-h$i link set lo up
    ip -n $T-h$i addr add $NET.1$i/24 dev eth0 && ip -n $T-h$i link set eth0 up
  done
  guest=$(bash scripts/build-test-guest.sh)
  nohup python3 -m http.server 8000 --bind $NET.1 --directory "$guest" >"$DIR/images.log" 2>&1 &
  echo $! >>"$DIR/pids"
  sleep 1
  # Beyond loopback: network mode. The embedded NATS listens on the underlay and requires each client's certificate.
  nohup node dist/src/main.js --data-dir "$DIR/server" --grpc-host $NET.1 --nats-listen $NET.1:4222 --http-port 8090 >"$DIR/server.log" 2>&1 &
  echo $! >>"$DIR/pids"
  P=$DIR/server/pki
  for _ in $(seq 100); do [ -f $P/ca.crt ] && curl -sf --cacert $P/ca.crt https://$NET.1:8090/readyz >/dev/null && break; sleep 0.2; done
  for i in 1 2; do
    # One single-use token per host; the agent keeps its key and certificate node:<host> in <state-dir>/pki.
    token=$(node dist/src/cli/hvctl.js --server $NET.1:50051 --ca $P/ca.crt --cert $P/admin.crt --key $P/admin.key node join-token create --ttl 10m 2>/dev/null)
    HV_JOIN_TOKEN=$token nohup ip netns exec $T-h$i node dist/src/agent/main.js --server $NET.1:50051 \
      --state-dir "$DIR/h$i" --hostname $T-h$i --advertise-ip $NET.1$i --tunnel-ip $NET.1$i --listen-host 0.0.0.0 \
      --accel tcg --image-allow-cidr $NET.0/24 >"$DIR/agent-h$i.log" 2>&1 &
    echo $! >>"$DIR/pids"
  done
  echo "two-hosts: server at $NET.1:50051 (admin certificate in $P), images at http://$NET.1:8000/, agents in $T-h1 ($NET.11) and $T-h2 ($NET.12); logs in $DIR"
}

case "${1:-}" in
up) up ;;
down) down ;;
*) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
