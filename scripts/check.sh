#!/usr/bin/env bash
# The whole check: provision the Kubernetes test assets (a no-op when cached), then build,
# typecheck, lint and test every package (publint + attw on every published one: lint:pkg),
# and print `N passed, N failed` from the real results.
set -uo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if [ -z "${KUBE_ASSETS:-}" ]; then
  step "provisioning etcd + kube-apiserver (cached after the first run)"
  bash scripts/provision-kube.sh || { echo "provisioning failed: see above" >&2; exit 1; }
fi

bash scripts/test-packages.sh

step "build, typecheck, lint, lint:pkg (publint, attw), test"
find packages apps bench deploy test -maxdepth 2 -name .vitest -type d -prune -exec rm -rf {} + 2>/dev/null
pnpm exec turbo run build typecheck lint lint:pkg test --continue --output-logs=errors-only
turbo_status=$?

step "test results"
node scripts/test-summary.mjs
summary_status=$?

if [ "$turbo_status" -ne 0 ]; then
  echo "a build, typecheck, lint, lint:pkg or test task failed (turbo exit $turbo_status): see its log above" >&2
  exit 1
fi
exit "$summary_status"
