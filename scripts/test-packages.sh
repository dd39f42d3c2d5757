#!/usr/bin/env bash
# The Debian packages the tests run beside the Node code, installed when missing (as root, or with
# `sudo -n`). Used by check.sh and check-stress.sh. Without them the tests that need them fail
# under CI and skip with one line otherwise.
set -uo pipefail
step() { printf '\n==> %s\n' "$*"; }

# Debian packages the deploy/ tests run: lua5.4 (the Argo CD health.lua), prometheus
# (promtool test rules, and a real Prometheus scraping vmcp), kubectl and buildah; and chromium, the
# headless browser the status page test (apps/vmcp) drives. A policy-rc.d that denies every
# start, in place during the install only, keeps the package's prometheus service from starting.
missing=""
command -v lua5.4 >/dev/null 2>&1 || missing="$missing lua5.4"
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || missing="$missing prometheus"
# kubectl (kustomize builds of deploy/kustomize): Debian's kubernetes-client when none is there.
command -v kubectl >/dev/null 2>&1 || missing="$missing kubernetes-client"
# buildah: the image test builds the OCI image (deploy/image/build.sh would install it too).
command -v buildah >/dev/null 2>&1 || missing="$missing buildah"
# chromium: the status page test loads the page in it (playwright-core drives /usr/bin/chromium).
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
if [ -n "$missing" ] && command -v apt-get >/dev/null 2>&1; then
  step "installing$missing (Debian) for the deploy/ and browser tests"
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

