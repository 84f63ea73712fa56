#!/usr/bin/env bash
# bench-compare: the Go benchmarks of a revision against the working tree's,
# compared with benchstat. The two sides run in turn, one run each, COUNT
# times over, so that the machine's drift (its speed varies from hour to
# hour) falls on both alike; each side's test binaries are built once.
#
#   make bench-compare BASE=main~3                 # every package with benchmarks
#   make bench-compare BASE=HEAD~1 PKGS=./precommand/ BENCH=MAC COUNT=10
set -euo pipefail
cd "$(dirname "$0")/.."
base=${BASE:?set BASE to the revision to compare the working tree with, e.g. BASE=HEAD~1}
count=${COUNT:-6}
bench=${BENCH:-.}
benchtime=${BENCHTIME:-1s}
# Every package with benchmarks, unless PKGS names some.
pkgs=${PKGS:-$(git grep -l '^func Benchmark' -- '*_test.go' | xargs -n1 dirname | sort -u | sed 's|^|./|; s|$|/|')}
dir=$(mktemp -d)
cleanup() {
  git worktree remove --force "$dir/base" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
: >"$dir/base.txt"
: >"$dir/head.txt"
git worktree add --detach --quiet "$dir/base" "$base"
built=()
for pkg in $pkgs; do
  name=$(echo "$pkg" | tr -c 'a-zA-Z0-9\n' '_')
  # A package the base does not have (or whose benchmarks it lacks) is
  # compared only where it exists: benchstat shows it on one side.
  if [ -d "$dir/base/$pkg" ]; then
    (cd "$dir/base" && go test -c -o "$dir/base-$name.test" "$pkg") || echo "bench-compare: $pkg does not build at $base" >&2
  fi
  go test -c -o "$dir/head-$name.test" "$pkg"
  built+=("$pkg:$name")
done
for i in $(seq 1 "$count"); do
  for side in base head; do
    root=.
    [ "$side" = base ] && root=$dir/base
    for b in "${built[@]}"; do
      pkg=${b%%:*} name=${b#*:}
      bin=$dir/$side-$name.test
      [ -x "$bin" ] || continue
      # From the package's directory, as go test runs it (testdata). The
      # protocol floor is skipped unless SKIP says otherwise: make bench
      # measures it, and its hundreds of goroutines make it the noisiest.
      (cd "$root/$pkg" && "$bin" -test.run '^$' -test.bench "$bench" -test.skip "${SKIP-ProtocolFloor}" \
        -test.benchmem -test.benchtime "$benchtime" -test.count 1) >>"$dir/$side.txt"
    done
  done
  echo "bench-compare: round $i of $count done" >&2
done
go tool -modfile=tools/go.mod benchstat "base=$dir/base.txt" "head=$dir/head.txt"
