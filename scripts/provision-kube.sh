#!/usr/bin/env bash
# Provision a real kube-apiserver (+ etcd, kube-controller-manager) for integration tests.
#
# There is no Docker/kind/envtest download on our machines, so we build Kubernetes v1.20.2
# from the Debian bookworm source package and cache the binaries, keyed by version.
# See docs/kube-apiserver.md for the facts this script relies on.
#
# Environment:
#   KUBE_ASSETS      A folder that already holds `etcd` and `kube-apiserver` (and optionally
#                    `kube-controller-manager`), like envtest's KUBEBUILDER_ASSETS. When set,
#                    the script only checks it and exits.
#   VMCP_KUBE_CACHE  Where to put the binaries. Default:
#                    ${XDG_CACHE_HOME:-$HOME/.cache}/vmcp-status/kube/v1.20.2
#   VMCP_KUBE_KEEP_BUILD=1  Keep the ~2.5 GB build tree after a successful build.
#
# Idempotent: every step whose output exists is skipped; a fully cached run is a fast no-op
# and never calls apt-get. Binaries are written atomically (copy to a temp name, then mv).
# Progress goes to stderr; stdout is only the assets folder path (usable as ASSETS=$(...)).
set -euo pipefail

KUBE_UPSTREAM_VERSION="v1.20.2"
KUBE_GIT_COMMIT_ID="faecb196815e248d3ecfb03c680a4507229c2a56" # upstream tag v1.20.2
DEB_SRC_PACKAGE="kubernetes"
DEB_SRC_VERSION="1.20.5+really1.20.2-1.1+deb12u1"
DEB_SOURCES_FILE="/etc/apt/sources.list.d/vmcp-status-src.sources"
DEBIAN_KEYRING="/usr/share/keyrings/debian-archive-keyring.gpg"
REFLECT2_SRC="/usr/share/gocode/src/github.com/modern-go/reflect2"
APT_PACKAGES=(golang-go make rsync jq dpkg-dev etcd-server openssl golang-github-modern-go-reflect2-dev)

log() { printf '[provision] %s\n' "$*" >&2; }
die() {
  printf '[provision] ERROR: %s\n' "$*" >&2
  exit 1
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# step NAME CMD...: run a step, print its duration.
step() {
  local name=$1
  shift
  local t0
  t0=$(now)
  log "${name} ..."
  # Tool output (apt, make) goes to stderr: stdout carries only the assets path.
  "$@" >&2
  log "${name}: done in $(elapsed "${t0}")s"
}
# skip NAME REASON: report a skipped step.
skip() { log "$1: skipped ($2)"; }

# ---------------------------------------------------------------------------------------------
# KUBE_ASSETS: use prebuilt binaries, verify and exit.
# ---------------------------------------------------------------------------------------------
if [[ -n "${KUBE_ASSETS:-}" ]]; then
  [[ -d "${KUBE_ASSETS}" ]] || die "KUBE_ASSETS=${KUBE_ASSETS} is not a directory"
  missing=()
  for bin in etcd kube-apiserver; do
    [[ -x "${KUBE_ASSETS}/${bin}" ]] || missing+=("${bin}")
  done
  ((${#missing[@]} == 0)) || die "KUBE_ASSETS=${KUBE_ASSETS} lacks executable: ${missing[*]}"
  [[ -x "${KUBE_ASSETS}/kube-controller-manager" ]] ||
    log "note: KUBE_ASSETS has no kube-controller-manager (ServiceAccount token secrets, namespace deletion and GC will not run)"
  log "using KUBE_ASSETS (nothing to provision)"
  log "assets: ${KUBE_ASSETS}"
  printf '%s\n' "${KUBE_ASSETS}"
  exit 0
fi

T_START=$(now)
CACHE_DIR="${VMCP_KUBE_CACHE:-${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/vmcp-status/kube/${KUBE_UPSTREAM_VERSION}}"
CACHE_DIR="${CACHE_DIR%/}"
BUILD_DIR="$(dirname "${CACHE_DIR}")/build-${KUBE_UPSTREAM_VERSION}"
SRC_DIR="${BUILD_DIR}/src"

have_all() {
  [[ -x "${CACHE_DIR}/etcd" && -x "${CACHE_DIR}/kube-apiserver" && -x "${CACHE_DIR}/kube-controller-manager" ]]
}

verify() {
  local out
  out=$("${CACHE_DIR}/kube-apiserver" --version 2>&1) || die "kube-apiserver --version failed: ${out}"
  [[ "${out}" == *"${KUBE_UPSTREAM_VERSION}"* ]] || die "kube-apiserver --version printed '${out}', expected ${KUBE_UPSTREAM_VERSION}"
  log "  ${out}"
  out=$("${CACHE_DIR}/kube-controller-manager" --version 2>&1) || die "kube-controller-manager --version failed: ${out}"
  log "  kube-controller-manager: ${out}"
  out=$("${CACHE_DIR}/etcd" --version 2>&1) || die "etcd --version failed: ${out}"
  log "  $(printf '%s' "${out}" | head -n1)"
}

finish() {
  log "total: $(elapsed "${T_START}")s"
  log "assets: ${CACHE_DIR}"
  printf '%s\n' "${CACHE_DIR}"
}

# Fast path: everything cached -> no apt, no build.
if have_all; then
  skip "etcd, kube-apiserver, kube-controller-manager" "cached in ${CACHE_DIR}"
  step "verify binaries" verify
  finish
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# Slow path.
# ---------------------------------------------------------------------------------------------
log "cache: ${CACHE_DIR}"
log "build dir: ${BUILD_DIR}"

command -v apt-get >/dev/null 2>&1 ||
  die "apt-get not found: this script builds kube-apiserver from the Debian bookworm source package. On other systems set KUBE_ASSETS to a folder containing etcd and kube-apiserver (and optionally kube-controller-manager) binaries for Kubernetes ${KUBE_UPSTREAM_VERSION}."

SUDO=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    die "need root (or passwordless sudo) to install build dependencies with apt-get; or set KUBE_ASSETS to a folder with etcd and kube-apiserver binaries"
  fi
fi

export DEBIAN_FRONTEND=noninteractive
APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o APT::Sandbox::User=root -o Dpkg::Use-Pty=0)
# `apt-get source` needs no root; as root, skip the _apt sandbox (it cannot read ~root/.cache).
APT_SRC=(apt-get)
((EUID != 0)) || APT_SRC+=(-o APT::Sandbox::User=root)

add_deb_src() {
  local tmp
  tmp=$(mktemp)
  cat >"${tmp}" <<EOF
# Added by vmcp-status scripts/provision-kube.sh (source packages for building kube-apiserver)
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: ${DEBIAN_KEYRING}

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: ${DEBIAN_KEYRING}
EOF
  "${SUDO[@]}" install -m 0644 "${tmp}" "${DEB_SOURCES_FILE}"
  rm -f "${tmp}"
}

APT_UPDATED=0
apt_update() {
  "${APT[@]}" update -q || die "apt-get update failed"
  APT_UPDATED=1
}
apt_update_once() { ((APT_UPDATED)) || step "apt-get update" apt_update; }

# Step 2: deb-src entry (only needed to download the source package).
need_source() { [[ ! -x "${CACHE_DIR}/kube-apiserver" || ! -x "${CACHE_DIR}/kube-controller-manager" ]]; }
if need_source; then
  if [[ -f "${DEB_SOURCES_FILE}" ]]; then
    skip "add deb-src entry" "${DEB_SOURCES_FILE} exists"
  else
    [[ -f "${DEBIAN_KEYRING}" ]] || die "missing ${DEBIAN_KEYRING} (package debian-archive-keyring)"
    step "add deb-src entry ${DEB_SOURCES_FILE}" add_deb_src
    apt_update_once
  fi
fi

# Step 3: build dependencies + etcd.
missing_pkgs() {
  local p st
  for p in "${APT_PACKAGES[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "${p}" 2>/dev/null || true)
    [[ "${st}" == "installed" ]] || printf '%s\n' "${p}"
  done
}
mapfile -t MISSING_PKGS < <(missing_pkgs)
if ((${#MISSING_PKGS[@]} == 0)); then
  skip "install packages" "all installed: ${APT_PACKAGES[*]}"
else
  apt_update_once
  install_pkgs() {
    local p
    for p in "${MISSING_PKGS[@]}"; do
      apt-cache show "${p}" >/dev/null 2>&1 || die "package '${p}' not found by apt-cache (is this Debian bookworm?)"
    done
    "${APT[@]}" install -y -q --no-install-recommends "${MISSING_PKGS[@]}" || die "apt-get install ${MISSING_PKGS[*]} failed"
  }
  step "install packages: ${MISSING_PKGS[*]}" install_pkgs
fi

mkdir -p "${CACHE_DIR}"

# atomic_copy SRC NAME: copy SRC to ${CACHE_DIR}/NAME via a temp file and mv.
atomic_copy() {
  local src=$1 name=$2 tmp
  [[ -f "${src}" ]] || die "expected binary ${src} is missing"
  tmp=$(mktemp "${CACHE_DIR}/.${name}.XXXXXX")
  cp "${src}" "${tmp}"
  chmod 0755 "${tmp}"
  mv -f "${tmp}" "${CACHE_DIR}/${name}"
}

copy_etcd() {
  local etcd_bin
  etcd_bin=$(dpkg -L etcd-server | grep -E '/bin/etcd$' | head -n1 || true)
  [[ -n "${etcd_bin}" ]] || etcd_bin=$(command -v etcd || true)
  [[ -n "${etcd_bin}" && -x "${etcd_bin}" ]] || die "etcd binary not found (package etcd-server installed?)"
  atomic_copy "${etcd_bin}" etcd
}
if [[ -x "${CACHE_DIR}/etcd" ]]; then
  skip "cache etcd" "exists"
else
  step "cache etcd" copy_etcd
fi

# Step 4: source package.
fetch_source() {
  mkdir -p "${BUILD_DIR}"
  (
    cd "${BUILD_DIR}"
    "${APT_SRC[@]}" source --download-only "${DEB_SRC_PACKAGE}=${DEB_SRC_VERSION}" ||
      die "apt-get source ${DEB_SRC_PACKAGE}=${DEB_SRC_VERSION} failed (deb-src entry in ${DEB_SOURCES_FILE}? apt-get update?)"
  )
  local dsc="${BUILD_DIR}/${DEB_SRC_PACKAGE}_${DEB_SRC_VERSION#*:}.dsc"
  [[ -f "${dsc}" ]] || die "expected ${dsc} after apt-get source"
  rm -rf "${SRC_DIR}.tmp"
  dpkg-source --no-check -x "${dsc}" "${SRC_DIR}.tmp" >/dev/null || die "dpkg-source -x ${dsc} failed"
  [[ -f "${SRC_DIR}.tmp/Makefile" && -d "${SRC_DIR}.tmp/vendor" ]] || die "unexpected source tree in ${SRC_DIR}.tmp (no Makefile/vendor)"
  rm -rf "${SRC_DIR}"
  mv "${SRC_DIR}.tmp" "${SRC_DIR}"
}

# Step 5: reflect2 1.0.1 -> Debian's 1.0.2 (1.0.1 crashes with Go >= 1.18: fault in UnsafeMapIterate).
patch_reflect2() {
  [[ -f "${REFLECT2_SRC}/reflect2.go" ]] || die "missing ${REFLECT2_SRC} (package golang-github-modern-go-reflect2-dev)"
  local dst="${SRC_DIR}/vendor/github.com/modern-go/reflect2"
  [[ -d "${dst}" ]] || die "vendored reflect2 not found at ${dst}"
  rm -rf "${dst}"
  mkdir -p "${dst}"
  # Only the Go package files (Debian's tree is plain sources; skip tests, tooling).
  find "${REFLECT2_SRC}" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' -o -name 'LICENSE' \) ! -name '*_test.go' \
    -exec cp -L {} "${dst}/" \;
  grep -q 'github.com/modern-go/reflect2 v1.0.1' "${SRC_DIR}/vendor/modules.txt" ||
    die "vendor/modules.txt has no 'github.com/modern-go/reflect2 v1.0.1' line to update"
  sed -i 's#github.com/modern-go/reflect2 v1.0.1#github.com/modern-go/reflect2 v1.0.2#g' \
    "${SRC_DIR}/vendor/modules.txt" "${SRC_DIR}/go.mod"
  touch "${SRC_DIR}/.vmcp-reflect2-patched"
}

# Step 6: build.
BUILD_HOME=""
cleanup_home() { [[ -z "${BUILD_HOME}" ]] || rm -rf "${BUILD_HOME}"; }
trap cleanup_home EXIT

make_kube() {
  local what=$1
  [[ -n "${BUILD_HOME}" ]] || BUILD_HOME=$(mktemp -d)
  cat >"${BUILD_DIR}/version.env" <<EOF
KUBE_GIT_COMMIT='${KUBE_GIT_COMMIT_ID}'
KUBE_GIT_TREE_STATE='clean'
KUBE_GIT_VERSION='${KUBE_UPSTREAM_VERSION}'
KUBE_GIT_MAJOR='1'
KUBE_GIT_MINOR='20'
EOF
  (
    cd "${SRC_DIR}"
    env -u GOFLAGS -u GOPATH -u GO111MODULE -u GOOS -u GOARCH \
      HOME="${BUILD_HOME}" \
      GOCACHE="${BUILD_DIR}/gocache" \
      CGO_ENABLED=0 \
      KUBE_GIT_VERSION_FILE="${BUILD_DIR}/version.env" \
      make WHAT="cmd/${what}"
  ) || die "make WHAT=cmd/${what} failed (see output above; source tree kept in ${SRC_DIR})"
  atomic_copy "${SRC_DIR}/_output/bin/${what}" "${what}"
}

if need_source; then
  command -v go >/dev/null 2>&1 || die "go not found after installing golang-go"
  if [[ -f "${SRC_DIR}/Makefile" ]]; then
    skip "fetch + unpack ${DEB_SRC_PACKAGE}=${DEB_SRC_VERSION}" "${SRC_DIR} exists"
  else
    apt_update_once_if_no_src() {
      # The deb-src index may be missing if the sources file was added by hand or lists are stale.
      apt-cache showsrc "${DEB_SRC_PACKAGE}" 2>/dev/null | grep -q "^Version: ${DEB_SRC_VERSION}$" || apt_update_once
    }
    apt_update_once_if_no_src
    step "fetch + unpack ${DEB_SRC_PACKAGE}=${DEB_SRC_VERSION}" fetch_source
  fi
  if [[ -f "${SRC_DIR}/.vmcp-reflect2-patched" ]]; then
    skip "vendor reflect2 v1.0.2" "already patched"
  else
    step "vendor reflect2 v1.0.2" patch_reflect2
  fi
  for what in kube-apiserver kube-controller-manager; do
    if [[ -x "${CACHE_DIR}/${what}" ]]; then
      skip "build ${what}" "cached"
    else
      step "build ${what} (cold build: several minutes)" make_kube "${what}"
    fi
  done
fi

have_all || die "binaries missing from ${CACHE_DIR} after provisioning"
step "verify binaries" verify

if [[ -d "${BUILD_DIR}" && "${VMCP_KUBE_KEEP_BUILD:-0}" != "1" ]]; then
  step "remove build dir ${BUILD_DIR}" rm -rf "${BUILD_DIR}"
fi

finish
