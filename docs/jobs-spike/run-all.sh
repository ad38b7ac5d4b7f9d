#!/usr/bin/env bash
# Runs every prototype suite on every store, then cleans up.
#   ./run-all.sh            # BullMQ on pglite, postgres, redis + pg-boss on pglite, postgres (cron takes 3½ min each)
#   SKIP_PGBOSS_CRON=1 ./run-all.sh
set -u -o pipefail
cd "$(dirname "$0")"
PG_ADMIN=postgres://postgres:postgres@127.0.0.1:5432/postgres
psql -q "$PG_ADMIN" -c 'drop database if exists jobs_spike' -c 'create database jobs_spike'
rm -rf data && mkdir -p data out
rc=0
for B in pglite postgres redis; do
  BACKEND=$B node bullmq/scenarios.mjs 2>&1 | tee "out/bullmq-$B.txt" || rc=1
done
for B in pglite postgres; do
  if [ -n "${SKIP_PGBOSS_CRON:-}" ]; then set -- backoff timeout delay-priority failed kill9; else set --; fi
  BACKEND=$B node pgboss/scenarios.mjs "$@" 2>&1 | tee "out/pgboss-$B.txt" || rc=1
done
# clean up: our database, our Redis prefix, our PGlite folders
psql -q "$PG_ADMIN" -c 'drop database if exists jobs_spike'
redis-cli --scan --pattern 'jobspike:*' | xargs -r redis-cli del > /dev/null
rm -rf data
exit $rc
