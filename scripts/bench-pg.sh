#!/usr/bin/env bash
# bench-pg: two `dccgate serve` processes sharing one PostgreSQL schema,
# each loaded by a `dccgate load` of its own (closed loop, non-critical),
# for the scale-out figure: requests a second completed by the two
# together, and the CPU each gateway and PostgreSQL used per completed
# request. The database: DCCGATE_BENCH_POSTGRES, else DCCGATE_TEST_POSTGRES,
# else the local one of this machine kind (trust auth, database test). The
# schema is made for the run and dropped after it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
BIN=${BIN:-bin/dccgate}
DUR=${DUR:-15s}
base=${DCCGATE_BENCH_POSTGRES:-${DCCGATE_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}}
schema=dccgate_bench_$$
case "$base" in *\?*) dsn="$base&search_path=$schema" ;; *) dsn="$base?search_path=$schema" ;; esac
go build -o "$BIN" ./cmd/dccgate
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$base" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
psql "$base" -qc "CREATE SCHEMA $schema"
"$BIN" load --data "$dir" --store "$dsn" --fleet 10000 --seed-only >/dev/null
ports=(18461 18462)
for i in 0 1; do
  "$BIN" serve --data "$dir" --store "$dsn" --demo 0 --listen "127.0.0.1:${ports[$i]}" --log-level warn >"$dir/serve$i.log" 2>&1 &
  pids+=($!)
done
for i in 0 1; do wait_serving "$dir/serve$i.log"; done
# CPU ticks of every PostgreSQL process (the backends of the run's
# connections live as long as the run).
pgticks() {
  local t=0 f
  for f in /proc/[0-9]*/stat; do
    read -r -a s <"$f" 2>/dev/null || continue
    [ "${s[1]}" = "(postgres)" ] && t=$((t + s[13] + s[14]))
  done
  echo "$t"
}
# The transactions the database ended, committed or rolled back: each
# statement a gateway sends on its own is one, a transaction of several
# (the alerts appended together) one too. A backend reports its counts at
# most once a second while busy and within 10 s of going idle.
xacts() {
  psql "$base" -Atc "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
}
loaders=()
for i in 0 1; do
  "$BIN" load --target "https://127.0.0.1:${ports[$i]}" --data "$dir" --duration "$DUR" --concurrency 64 \
    --alerts 0 --quiet --mix critical=0 >"$dir/load$i.out" &
  loaders+=($!)
done
# The CPU is counted from the line each load prints as its timed run
# begins, after its setup (meters put in prepayment mode and topped up).
for i in 0 1; do wait_run_start "$dir/load$i.out" "${loaders[$i]}"; done
g0=$(ticks "${pids[0]}") g1=$(ticks "${pids[1]}") p0=$(pgticks) x0=$(xacts)
wait "${loaders[@]}"
g0=$(($(ticks "${pids[0]}") - g0)) g1=$(($(ticks "${pids[1]}") - g1)) p0=$(($(pgticks) - p0))
# Stop the gateways (their streams' polls and lease rounds would count) and
# let the backends report what they did.
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
wait "${pids[@]}" 2>/dev/null || true
sleep 11
x0=$(($(xacts) - x0 - 1))
for i in 0 1; do
  echo "--- gateway $i"
  awk '/^(sent|all) / { print } /^outcomes:/ { o = 1; print; next } o && /^  / { print; next } { o = 0 }' "$dir/load$i.out"
done
awk -v g="$((g0 + g1))" -v p="$p0" -v x="$x0" -v hz="$(getconf CLK_TCK)" '
  $1 == "sent" { n += $4 + 0; rate += $(NF - 2) + 0 }
  END { if (n) printf "two gateways on PostgreSQL: %.0f requests/s completed; gateways %.0f us of CPU a completed request, PostgreSQL %.0f us and %.1f transactions\n", rate, g / hz / n * 1e6, p / hz / n * 1e6, x / n }
' "$dir/load0.out" "$dir/load1.out"
