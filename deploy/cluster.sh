#!/usr/bin/env bash
# N Flux instances behind nginx on this host (docs/operations.md "Several instances behind nginx"): the
# way to deploy, and what the tests run.
#
#   deploy/cluster.sh start <run-dir> <instances> <listen>   # e.g. /var/run/flux 3 0.0.0.0:80
#   deploy/cluster.sh stop <run-dir>
#
# start builds Flux (npm run build, unless FLUX_SKIP_BUILD=1), runs the migrations once (npx flux
# migrate), starts <instances> processes `node dist/app.js` on 127.0.0.1 at the ports following
# <listen>'s (listen 8080: instances on 8081, 8082…; listen 0: free ports), each trusting the proxy on
# loopback (FLUX_TRUST_PROXY=loopback), writes <run-dir>/nginx.conf from deploy/nginx.conf and starts
# nginx on <listen>, then waits until GET /ready answers 200 through nginx. It prints
# `cluster <nginx-port> <instance-port>…`. Each process writes <run-dir>/<name>.log and .pid.
#
# Environment of the instances: DATABASE_URL and REDIS_URL (required: instances share the database,
# revocations, limits and events through them), JWT_SECRET (required, the same on every instance),
# NODE_ENV (default production), and any other variable of docs/operations.md §1.
set -euo pipefail
cd "$(dirname "$0")/.."

command=${1:?usage: deploy/cluster.sh start <run-dir> <instances> <listen> | stop <run-dir>}
run=${2:?the run directory}

stop() {
  for pidfile in "$run"/instance-*.pid; do
    [ -e "$pidfile" ] || continue
    kill -TERM "$(cat "$pidfile")" 2>/dev/null || true
  done
  if [ -e "$run/nginx.pid" ]; then nginx -c "$run/nginx.conf" -p "$run" -s quit 2>/dev/null || true; fi
  # the instances drain their requests (server.shutdownTimeoutMs) before they exit
  for pidfile in "$run"/instance-*.pid "$run"/nginx.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pidfile"
  done
}

free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

case "$command" in
stop)
  stop
  ;;
start)
  instances=${3:?the number of instances}
  listen=${4:?the address nginx listens on, host:port}
  : "${DATABASE_URL:?DATABASE_URL: the instances share one PostgreSQL database}"
  : "${REDIS_URL:?REDIS_URL: the instances share events, revocations and limits through Redis}"
  : "${JWT_SECRET:?JWT_SECRET: the same secret on every instance}"
  export NODE_ENV=${NODE_ENV:-production}
  export FLUX_TRUST_PROXY=loopback HOST=127.0.0.1
  mkdir -p "$run"
  [ "${FLUX_SKIP_BUILD:-}" = 1 ] || npm run --silent build
  node dist/cli/flux.js migrate up >"$run/migrate.log" 2>&1

  port=${listen##*:}
  host=${listen%:*}
  [ "$port" = 0 ] && port=$(free_port)
  servers=""
  ports=()
  for i in $(seq 1 "$instances"); do
    if [ "${listen##*:}" = 0 ]; then instance_port=$(free_port); else instance_port=$((port + i)); fi
    ports+=("$instance_port")
    servers+="    server 127.0.0.1:$instance_port max_fails=1 fail_timeout=5s;"$'\n'
    PORT=$instance_port nohup node dist/app.js >"$run/instance-$i.log" 2>&1 &
    echo $! >"$run/instance-$i.pid"
  done
  for i in $(seq 1 "$instances"); do
    for _ in $(seq 1 300); do
      grep -q 'Flux listening' "$run/instance-$i.log" && break
      kill -0 "$(cat "$run/instance-$i.pid")" 2>/dev/null || { cat "$run/instance-$i.log" >&2; stop; exit 1; }
      sleep 0.1
    done
  done

  mkdir -p "$run/client_body" "$run/proxy" "$run/fastcgi" "$run/uwsgi" "$run/scgi"
  node -e '
    const fs = require("fs");
    const [template, target, run, listen, servers] = process.argv.slice(1);
    fs.writeFileSync(target, fs.readFileSync(template, "utf8")
      .replaceAll("@@RUN@@", run).replaceAll("@@LISTEN@@", listen).replace("@@SERVERS@@", servers.trimEnd()));
  ' deploy/nginx.conf "$run/nginx.conf" "$(cd "$run" && pwd)" "$host:$port" "$servers"
  nginx -c "$(cd "$run" && pwd)/nginx.conf" -p "$(cd "$run" && pwd)"
  for _ in $(seq 1 100); do
    code=$(node -e "fetch('http://127.0.0.1:$port/ready').then(r=>console.log(r.status),()=>console.log(0))")
    [ "$code" = 200 ] && break
    sleep 0.1
  done
  [ "$code" = 200 ] || { echo "cluster: /ready did not answer 200 through nginx" >&2; stop; exit 1; }
  echo "cluster $port ${ports[*]}"
  ;;
*)
  echo "usage: deploy/cluster.sh start <run-dir> <instances> <listen> | stop <run-dir>" >&2
  exit 2
  ;;
esac
