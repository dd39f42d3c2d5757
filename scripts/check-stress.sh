#!/usr/bin/env bash
# `pnpm check:stress`: the whole test suite, several times, with a CPU hog on every core beside it.
# A test that races the wall clock (a deadline that includes process start, a sleep before an
# assertion) fails here long before it fails in CI. Not part of `.ci/run`: it takes a while.
#
#   STRESS_RUNS=3      how many runs (each one forces every test task, no turbo cache)
#   STRESS_WORKERS=2   CPU hogs beside the suite (default: one per core)
set -uo pipefail
cd "$(dirname "$0")/.."

runs="${STRESS_RUNS:-3}"
workers="${STRESS_WORKERS:-$(nproc)}"
step() { printf '\n==> %s\n' "$*"; }

if ! command -v stress-ng >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  step "installing stress-ng (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends stress-ng >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends stress-ng >/dev/null; } ||
    echo "could not install stress-ng: falling back to busy loops in node" >&2
fi

bash scripts/test-packages.sh

if [ -z "${KUBE_ASSETS:-}" ]; then
  step "provisioning etcd + kube-apiserver (cached after the first run)"
  bash scripts/provision-kube.sh || { echo "provisioning failed: see above" >&2; exit 1; }
fi

step "build"
pnpm exec turbo run build --output-logs=errors-only || exit 1

hog_pids=()
start_hog() {
  if command -v stress-ng >/dev/null 2>&1; then
    stress-ng --cpu "$workers" --quiet &
    hog_pids+=("$!")
  else
    for _ in $(seq "$workers"); do
      node -e 'for (;;) {}' &
      hog_pids+=("$!")
    done
  fi
}
stop_hog() {
  for pid in "${hog_pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${hog_pids[@]}"; do wait "$pid" 2>/dev/null; done
  hog_pids=()
}
trap stop_hog EXIT

results=()
failures=0
for run in $(seq "$runs"); do
  step "run $run of $runs, beside $workers CPU hog(s)"
  find packages apps bench deploy test -maxdepth 2 -name .vitest -type d -prune -exec rm -rf {} + 2>/dev/null
  start_hog
  started=$(date +%s)
  pnpm exec turbo run test --force --continue --output-logs=errors-only
  turbo_status=$?
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  stop_hog
  summary=$(node scripts/test-summary.mjs)
  summary_status=$?
  echo "$summary"
  line="run $run: $(echo "$summary" | tail -n 1) in $(($(date +%s) - started)) s (load average at the end: $load)"
  results+=("$line")
  if [ "$turbo_status" -ne 0 ] || [ "$summary_status" -ne 0 ]; then failures=$((failures + 1)); fi
done

step "stress results"
printf '%s\n' "${results[@]}"
if [ "$failures" -gt 0 ]; then
  echo "$failures of $runs run(s) failed: see the failing tests above" >&2
  exit 1
fi
