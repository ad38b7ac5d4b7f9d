#!/usr/bin/env bash
# N Flux instances behind nginx on this host (docs/operations.md "Several instances behind nginx"): the
# way to deploy without systemd, and what the tests run.
#
#   deploy/cluster.sh start <run-dir> <instances> <listen>   # e.g. /var/run/flux 3 0.0.0.0:80
#   deploy/cluster.sh restart <run-dir>                       # upgrade: build, migrate, rolling restart
#   deploy/cluster.sh stop <run-dir>
#
# start builds Flux (npm run build, unless FLUX_SKIP_BUILD=1), runs the migrations once (the command of
# deploy/systemd/flux-migrate.service), starts <instances> processes with the Environment= and
# ExecStart= of deploy/systemd/flux@.service (`node dist/app.js` on 127.0.0.1, trusting the proxy on
# loopback) at the ports following <listen>'s (listen 8080: instances on 8081, 8082…; listen 0: free
# ports), writes <run-dir>/nginx.conf from deploy/nginx.conf and starts nginx on <listen>, then waits
# until GET /ready answers 200 through nginx. It prints `cluster <nginx-port> <instance-port>…`. Each
# process writes <run-dir>/<name>.log, .pid and (instances) .port; restart keeps the log of the process
# before as <name>.previous.log.
#
# restart builds and migrates as start does, then restarts the instances one at a time: SIGTERM (the
# instance keeps serving for FLUX_DRAIN_DELAY_MS, closes its port, waits for nginx to close its kept-alive
# connections, then finishes its requests and closes its sockets, whose clients reconnect through nginx
# to the others), start again on the same port, wait until its /ready answers 200 and nginx uses it
# again, next.
#
# Environment of the instances: DATABASE_URL and REDIS_URL (required: instances share the database,
# revocations, limits and events through them), JWT_SECRET (required, the same on every instance), and
# any other variable of docs/operations.md §1 (the unit's Environment= wins over the caller's).
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: deploy/cluster.sh start <run-dir> <instances> <listen> | restart <run-dir> | stop <run-dir>"
command=${1:?$usage}
run=${2:?the run directory}

# unit_command <unit> [instance]: sets UNIT_COMMAND to the ExecStart= of deploy/systemd/<unit> run by
# env(1) with its Environment= (words KEY=VALUE, %i replaced by <instance>). /usr/bin/node is the node of
# the PATH.
unit_command() {
  local file="deploy/systemd/$1" instance=${2:-} word line
  UNIT_COMMAND=(env)
  for word in $(sed -n 's/^Environment=//p' "$file"); do UNIT_COMMAND+=("${word//%i/$instance}"); done
  line=$(sed -n 's/^ExecStart=//p' "$file")
  line=${line/#\/usr\/bin\/node/$(command -v node)}
  # shellcheck disable=SC2206 # ExecStart= is split into words, as systemd does
  UNIT_COMMAND+=($line)
}

# start_instance <i> <port>: instance i in the background, its log, pid and port in the run directory;
# returns once it listens (or fails with its log).
start_instance() {
  local i=$1 port=$2
  echo "$port" >"$run/instance-$i.port"
  unit_command flux@.service "$port"
  nohup "${UNIT_COMMAND[@]}" >"$run/instance-$i.log" 2>&1 &
  echo $! >"$run/instance-$i.pid"
}

await_instance() {
  local i=$1
  for _ in $(seq 1 300); do
    grep -q 'Flux listening' "$run/instance-$i.log" && return 0
    kill -0 "$(cat "$run/instance-$i.pid")" 2>/dev/null || break
    sleep 0.1
  done
  cat "$run/instance-$i.log" >&2
  return 1
}

# await_ready <port>: until GET /ready answers 200 there (10 s at most)
await_ready() {
  local code=0
  for _ in $(seq 1 100); do
    code=$(node -e "fetch('http://127.0.0.1:$1/ready').then(r=>console.log(r.status),()=>console.log(0))")
    [ "$code" = 200 ] && return 0
    sleep 0.1
  done
  return 1
}

# await_exit <pid>: until the process is gone (30 s at most, the unit's TimeoutStopSec)
await_exit() {
  for _ in $(seq 1 300); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}

stop() {
  for pidfile in "$run"/instance-*.pid; do
    [ -e "$pidfile" ] || continue
    kill -TERM "$(cat "$pidfile")" 2>/dev/null || true
  done
  if [ -e "$run/nginx.pid" ]; then nginx -c "$run/nginx.conf" -p "$run" -s quit 2>/dev/null || true; fi
  # the instances drain their requests (server.shutdownTimeoutMs) before they exit
  for pidfile in "$run"/instance-*.pid "$run"/nginx.pid; do
    [ -e "$pidfile" ] || continue
    await_exit "$(cat "$pidfile")" || true
    rm -f "$pidfile"
  done
}

# nginx's fail_timeout (s): how long it skips an instance after a failed connection
FAIL_TIMEOUT=2

free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

build_and_migrate() {
  : "${DATABASE_URL:?DATABASE_URL: the instances share one PostgreSQL database}"
  : "${REDIS_URL:?REDIS_URL: the instances share events, revocations and limits through Redis}"
  : "${JWT_SECRET:?JWT_SECRET: the same secret on every instance}"
  mkdir -p "$run"
  [ "${FLUX_SKIP_BUILD:-}" = 1 ] || npm run --silent build
  unit_command flux-migrate.service
  "${UNIT_COMMAND[@]}" >"$run/migrate.log" 2>&1 || { cat "$run/migrate.log" >&2; exit 1; }
}

case "$command" in
stop)
  stop
  ;;
start)
  instances=${3:?the number of instances}
  listen=${4:?the address nginx listens on, host:port}
  build_and_migrate

  port=${listen##*:}
  host=${listen%:*}
  servers=""
  ports=()
  for i in $(seq 1 "$instances"); do
    if [ "${listen##*:}" = 0 ]; then instance_port=$(free_port); else instance_port=$((port + i)); fi
    ports+=("$instance_port")
    servers+="    server 127.0.0.1:$instance_port max_fails=1 fail_timeout=${FAIL_TIMEOUT}s;"$'\n'
    start_instance "$i" "$instance_port"
  done
  for i in $(seq 1 "$instances"); do
    await_instance "$i" || { stop; exit 1; }
  done

  mkdir -p "$run/client_body" "$run/proxy" "$run/fastcgi" "$run/uwsgi" "$run/scgi"
  # listen 0: a free port picked right before nginx binds it, and another one if something took it
  # meanwhile (other processes bind ports too: tests run side by side)
  for attempt in 1 2 3 4 5; do
    [ "${listen##*:}" = 0 ] && port=$(free_port)
    node -e '
      const fs = require("fs");
      const [template, target, run, listen, servers] = process.argv.slice(1);
      fs.writeFileSync(target, fs.readFileSync(template, "utf8")
        .replaceAll("@@RUN@@", run).replaceAll("@@LISTEN@@", listen).replace("@@SERVERS@@", servers.trimEnd()));
    ' deploy/nginx.conf "$run/nginx.conf" "$(cd "$run" && pwd)" "$host:$port" "$servers"
    nginx -c "$(cd "$run" && pwd)/nginx.conf" -p "$(cd "$run" && pwd)" 2>"$run/nginx-start.err" && break
    if [ "${listen##*:}" != 0 ] || [ "$attempt" = 5 ] || ! grep -q 'Address already in use' "$run/nginx-start.err"; then
      cat "$run/nginx-start.err" >&2
      stop
      exit 1
    fi
  done
  await_ready "$port" || { echo "cluster: /ready did not answer 200 through nginx" >&2; stop; exit 1; }
  echo "cluster $port ${ports[*]}"
  ;;
restart)
  build_and_migrate
  for portfile in "$run"/instance-*.port; do
    i=${portfile##*/instance-}
    i=${i%.port}
    instance_port=$(cat "$portfile")
    pid=$(cat "$run/instance-$i.pid")
    kill -TERM "$pid" 2>/dev/null || true
    await_exit "$pid" || { echo "cluster: instance $i did not stop" >&2; exit 1; }
    mv "$run/instance-$i.log" "$run/instance-$i.previous.log"
    start_instance "$i" "$instance_port"
    await_instance "$i" || exit 1
    await_ready "$instance_port" || { echo "cluster: instance $i is not ready" >&2; exit 1; }
    # nginx skips an instance for fail_timeout after it refused a connection: wait until it is back in
    # nginx's rotation before the next one goes, or nginx could find none left
    sleep $((FAIL_TIMEOUT + 1))
    echo "restarted $i $instance_port"
  done
  ;;
*)
  echo "$usage" >&2
  exit 2
  ;;
esac
