# lib.sh: what the bench scripts share (sourced by them).

# wait_serving LOG: wait, up to a minute, for the `dccgate serve` writing LOG
# to say it serves; if it does not, print LOG and fail.
wait_serving() {
  for _ in $(seq 1 120); do grep -q "serving on" "$1" && return 0; sleep 0.5; done
  cat "$1"
  return 1
}

# wait_run_start OUT PID: wait until the `dccgate load` (process PID)
# writing OUT prints that its timed run starts, after its setup, or ends.
wait_run_start() {
  until grep -q '^load: the run starts' "$1" || ! kill -0 "$2" 2>/dev/null; do sleep 0.1; done
}

# ticks PID: the CPU ticks (user and system) process PID has used.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
