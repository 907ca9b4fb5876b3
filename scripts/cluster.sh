#!/usr/bin/env bash
# A highly available control plane on this machine (issue 24): three clustered
# nats-servers (JetStream, each with its own ports and store), three
# hypervisor-server replicas on them (the streams get three replicas) and one
# hypervisor-agent. On three machines each runs one nats-server and one server
# replica (README: "High availability"); here they share loopback.
#
#   scripts/cluster.sh up      build if needed and start (state and logs in $HV_CLUSTER_DIR)
#   scripts/cluster.sh down    stop everything this script started (by pid) and remove its state
#
#   nats-server n1..n3   clients 127.0.0.1:4222..4224, routes 127.0.0.1:6222..6224
#   server replica 1..3  gRPC 127.0.0.1:50051..50053, HTTP (/readyz, /metrics, /ui) 8080..8082
#   agent                AgentService 127.0.0.1:50060, state in $HV_CLUSTER_DIR/agent
#
#   hvctl --server 127.0.0.1:50051,127.0.0.1:50052,127.0.0.1:50053 cluster info
#
# HV_CLUSTER_PORT_OFFSET=1000 moves every port up by 1000 (a second cluster, or the defaults taken).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${HV_CLUSTER_DIR:-/tmp/hv-cluster}
HOST=127.0.0.1
O=${HV_CLUSTER_PORT_OFFSET:-0}
NATS=$((4221 + O)) ROUTE=$((6221 + O)) GRPC=$((50050 + O)) HTTP=$((8079 + O)) AGENT=$((50060 + O))
NATS_URLS="nats://$HOST:$((NATS + 1)),nats://$HOST:$((NATS + 2)),nats://$HOST:$((NATS + 3))"
SERVERS="$HOST:$((GRPC + 1)),$HOST:$((GRPC + 2)),$HOST:$((GRPC + 3))"

start() { # name, command...: runs it in the background, its pid in $DIR/pids, its output in $DIR/<name>.log
  local name=$1
  shift
  nohup "$@" >"$DIR/$name.log" 2>&1 &
  echo "$! $name" >>"$DIR/pids"
}

wait_for() { # what, command...: up to 30 s
  local what=$1
  shift
  for _ in $(seq 150); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "cluster: $what did not come up; see $DIR/*.log" >&2
  exit 1
}

up() {
  [ -f "$DIR/pids" ] && { echo "cluster: already up (run: $0 down)" >&2; exit 1; }
  [ -f dist/src/main.js ] || bash scripts/setup.sh >/dev/null
  mkdir -p "$DIR"
  for i in 1 2 3; do
    mkdir -p "$DIR/n$i"
    routes=""
    for j in 1 2 3; do [ "$j" = "$i" ] || routes="$routes\"nats-route://$HOST:$((ROUTE + j))\", "; done
    cat >"$DIR/n$i/nats.conf" <<CONF
server_name: n$i
listen: "$HOST:$((NATS + i))"
jetstream { store_dir: "$DIR/n$i/jetstream" }
cluster {
  name: hv
  listen: "$HOST:$((ROUTE + i))"
  routes: [${routes%, }]
}
CONF
    start "nats-n$i" nats-server -c "$DIR/n$i/nats.conf"
  done
  for i in 1 2 3; do wait_for "nats-server n$i" bash -c "exec 3<>/dev/tcp/$HOST/$((NATS + i))"; done
  for i in 1 2 3; do
    start "server-$i" node dist/src/main.js --nats-url "$NATS_URLS" --grpc-host $HOST --grpc-port $((GRPC + i)) \
      --http-port $((HTTP + i)) --data-dir "$DIR/server-$i" --log-format json
    # One at a time: the first makes the streams (R3), the others find them.
    wait_for "server replica $i" curl -sf "http://$HOST:$((HTTP + i))/readyz"
  done
  # grpc-js's ipv4: target lists every replica: the agent goes to the next when one stops answering.
  start agent node dist/src/agent/main.js --server "ipv4:$SERVERS" --nats-url "$NATS_URLS" \
    --state-dir "$DIR/agent" --port $AGENT --listen-host $HOST --advertise-ip $HOST
  echo "cluster: NATS $NATS_URLS; server replicas $SERVERS (HTTP $((HTTP + 1))-$((HTTP + 3))); agent on $HOST:$AGENT; logs in $DIR"
  echo "  node dist/src/cli/hvctl.js --server $SERVERS cluster info"
}

down() {
  if [ -f "$DIR/pids" ]; then
    # The agent and the servers first (they let go of their leases), the nats-servers last.
    tac "$DIR/pids" | while read -r pid name; do
      kill -TERM "$pid" 2>/dev/null || continue
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null && echo "cluster: $name did not stop in 10 s; killed" >&2 || true
    done
  fi
  rm -rf "$DIR"
}

case "${1:-}" in
up) up ;;
down) down ;;
*) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
