#!/usr/bin/env bash
# bench-scale: seed a gateway with SYSTEMS Smart Metering Systems (default
# 1,000,000: about 2.75 million devices), serve it from a separate process
# and drive load at it through the public API; print the seeding time, the
# load figures and the serving process's resident memory. The gateway runs
# with its default soft memory limit (gc.memory_limit, 768MiB; GOMEMLIMIT
# overrides it): without one the heap may grow to five times what is live
# before a collection (gc.percent 400), and the emulated fleet grows with
# every premises a request first reaches.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
SYSTEMS=${SYSTEMS:-1000000}
DURATION=${DURATION:-20s}
BIN=${BIN:-bin/dccgate}
DIR=$(mktemp -d)
PORT=${PORT:-18443}
trap 'kill $SERVE 2>/dev/null || true; rm -rf "$DIR"' EXIT

"$BIN" load --data "$DIR" --fleet "$SYSTEMS" --seed-only
"$BIN" serve --data "$DIR" --demo 0 --listen "127.0.0.1:$PORT" --log-level warn >"$DIR/serve.log" 2>&1 &
SERVE=$!
wait_serving "$DIR/serve.log"
echo "serving $SYSTEMS systems: $(grep VmRSS /proc/$SERVE/status)"
"$BIN" load --target "https://127.0.0.1:$PORT" --data "$DIR" --duration "$DURATION" --concurrency 256 --quiet
echo "gateway memory after the run: $(grep -E 'VmRSS' /proc/$SERVE/status | tr -s ' \t' ' '), peak $(grep -E 'VmHWM' /proc/$SERVE/status | tr -s ' \t' ' ')"
