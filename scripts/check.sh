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

# Debian packages the deploy/ tests run: lua5.4 (the Argo CD health.lua), prometheus
# (promtool test rules, and a real Prometheus scraping vmcp) and kubectl. A policy-rc.d that denies every
# start, in place during the install only, keeps the package's prometheus service from starting.
missing=""
command -v lua5.4 >/dev/null 2>&1 || missing="$missing lua5.4"
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || missing="$missing prometheus"
# kubectl (kustomize builds of deploy/kustomize): Debian's kubernetes-client when none is there.
command -v kubectl >/dev/null 2>&1 || missing="$missing kubernetes-client"
if [ -n "$missing" ] && command -v apt-get >/dev/null 2>&1; then
  step "installing$missing (Debian) for the deploy/ tests"
  if [ "$(id -u)" -eq 0 ]; then as_root=""; else as_root="sudo -n"; fi
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ] &&
    $as_root sh -c "printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d"; then
    own_policy=1
  fi
  # shellcheck disable=SC2086 # $missing is a list of package names
  $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null ||
    { $as_root apt-get update -q >/dev/null &&
      $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null; } ||
    echo "could not install$missing (needs root or sudo): their tests fail under CI, skip otherwise" >&2
  if [ "$own_policy" -eq 1 ]; then $as_root rm -f /usr/sbin/policy-rc.d; fi
fi

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
