#!/usr/bin/env bash
# bench: the figures of the speed issue, on this machine.
#   1. the engine: BenchmarkDecide (the full check chain over a realistic
#      mix) against BenchmarkDecideBaseline (the same checks as plain Go),
#      medians and their ratio;
#   2. the protocol floor: BenchmarkProtocolFloor, a Submit and its
#      response on the stream over mutual TLS and HTTP/2 with handlers that
#      do nothing; the CPU it takes is what any request costs before the
#      gateway's own work; BenchmarkProtocolFloorStream, the same with the
#      requests sent on each user's SubmitStream (how `dccgate load` sends
#      them unless --calls);
#   3. the gateway's own work: BenchmarkRequest, a request submitted,
#      checked, stored, executed and its response stored, with no API in
#      front (the CPU a request, beside the floor's);
#   4. load through the public API, in process, on the embedded store:
#      closed loop (the default mix), open loop at 1000/s, open loop at
#      the target's 5000/s (non-critical), the highest rate in steps of
#      500/s whose p99 stays within the target's 25 ms, and critical
#      requests only (the signing round trip);
#   5. the gateway alone: served from its own process, loaded (closed loop,
#      non-critical) by another, with the CPU time each process used per
#      completed request: what the gateway costs without the load
#      generator's share of the same two cores, also as a multiple of the
#      protocol floor, which compares runs on days the machine's speed
#      differs.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
BIN=${BIN:-bin/dccgate}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench . -benchmem ./engine/ | tee "$out"
awk '
  $1 ~ /^BenchmarkDecide(-[0-9]+)?$/         { for (i = 1; i < NF; i++) if ($(i+1) == "median-ns") d = $i }
  $1 ~ /^BenchmarkDecideBaseline(-[0-9]+)?$/ { for (i = 1; i < NF; i++) if ($(i+1) == "median-ns") b = $i }
  END { if (d && b) printf "engine: median %.2f us a decision, plain-Go baseline %.2f us: %.1fx (targets: <= 20 us, <= 10x)\n", d/1000, b/1000, d/b }
' "$out"
go test -run '^$' -bench ProtocolFloor -benchtime 10s ./runtime/api/ | tee "$out"
# The floor is also the yardstick of this machine's speed, which varies
# from day to day: the gateway's CPU is given as a multiple of it below.
floor=$(awk '$1 ~ /^BenchmarkProtocolFloor(-[0-9]+)?$/ { for (i = 1; i < NF; i++) if ($(i+1) == "cpu-us/op") c = $i } END { print c + 0 }' "$out")
streamfloor=$(awk '$1 ~ /^BenchmarkProtocolFloorStream(-[0-9]+)?$/ { for (i = 1; i < NF; i++) if ($(i+1) == "cpu-us/op") c = $i } END { print c + 0 }' "$out")
awk -v c="$floor" -v s="$streamfloor" 'BEGIN {
  if (c > 0) printf "protocol floor: %.0f us of CPU a request (client and server, handlers doing nothing): %.2f cores at 5000/s\n", c, c * 5000 / 1e6
  if (s > 0) printf "protocol floor on SubmitStreams: %.0f us of CPU a request: %.2f cores at 5000/s\n", s, s * 5000 / 1e6 }'
go test -run '^$' -bench 'BenchmarkRequest$' -benchtime 20000x ./runtime/gateway/ | tee "$out"
awk -v floor="$floor" '$1 ~ /^BenchmarkRequest(-[0-9]+)?$/ { for (i = 1; i < NF; i++) if ($(i+1) == "cpu-us/op") c = $i }
  END { if (c) printf "the gateway without the API: %.0f us of CPU a request (the protocol floor: %.0f us)\n", c, floor }' "$out"
go build -o "$BIN" ./cmd/dccgate
echo "--- closed loop, the default mix"
"$BIN" load --fleet 10000 --duration 15s --concurrency 256 --quiet
echo "--- open loop at 1000 requests a second"
"$BIN" load --fleet 10000 --duration 15s --rate 1000 --quiet
echo "--- open loop at 5000 non-critical requests a second (the target; what the gateway cannot take is refused GATEWAY_BUSY, and what falls due with 2048 outstanding is not sent)"
"$BIN" load --fleet 10000 --duration 15s --rate 5000 --quiet --mix critical=0
echo "--- the same, with a Submit call for each request (--calls) rather than each user's SubmitStream"
"$BIN" load --fleet 10000 --duration 15s --rate 5000 --quiet --mix critical=0 --calls
echo "--- the highest rate (open loop, non-critical, steps of 500/s) at which every request completed with p99 <= 25 ms"
within=0
for rate in $(seq 500 500 5000); do
  "$BIN" load --fleet 10000 --duration 10s --rate "$rate" --quiet --mix critical=0 >"$out"
  verdict=$(awk -v rate="$rate" '
    $1 == "sent" { sent = $2 + 0; done = $4 + 0
                   for (i = 2; i < NF; i++) if ($i == "not" && $(i+1) == "sent") dropped = $(i-1) + 0 }
    $1 == "all" { p99 = $5 }
    END { ok = sent > 0 && done == sent && !dropped && p99 != "" && p99 + 0 <= 25
          printf "%s %d/s: %d of %d completed, p99 %s ms", ok ? "within" : "beyond", rate, done, sent, p99
          if (dropped) printf ", %d not sent (the load generator'"'"'s bound on outstanding requests)", dropped
          printf "\n" }' "$out")
  echo "$verdict"
  case "$verdict" in within*) within=$rate ;; *) break ;; esac
done
echo "p99 <= 25 ms up to $within non-critical requests a second (target: 5000)"
echo "--- critical requests only, signed by the client"
"$BIN" load --fleet 10000 --duration 15s --concurrency 256 --alerts 0 --quiet \
  --mix '*=0,critical=1'
echo "--- the gateway alone: served from its own process, closed loop of 128 from another (non-critical)"
dir=$(mktemp -d)
port=${PORT:-18444}
serve=""
trap 'rm -f "$out"; kill "$serve" 2>/dev/null || true; rm -rf "$dir"' EXIT
"$BIN" load --data "$dir" --fleet 10000 --seed-only >/dev/null
"$BIN" serve --data "$dir" --demo 0 --listen "127.0.0.1:$port" --log-level warn >"$dir/serve.log" 2>&1 &
serve=$!
wait_serving "$dir/serve.log"
# The gateway's CPU is counted from the line the load prints as its timed
# run begins, after its setup (meters put in prepayment mode and topped up).
"$BIN" load --target "https://127.0.0.1:$port" --data "$dir" --duration 15s --concurrency 128 --alerts 0 --quiet --mix critical=0 >"$out" &
loader=$!
wait_run_start "$out" "$loader"
before=$(ticks "$serve")
wait "$loader"
after=$(ticks "$serve")
cat "$out"
awk -v t="$((after - before))" -v hz="$(getconf CLK_TCK)" -v floor="$floor" '
  $1 == "sent" { n = $4 + 0 }
  END { if (n) { us = t / hz / n * 1e6
                 printf "gateway process: %.1f s of CPU, %.0f us a completed request", t / hz, us
                 if (floor > 0) printf " (%.2f times the protocol floor measured above)", us / floor
                 printf "\n" } }
' "$out"
