#!/usr/bin/env bash
# Builds the vmcp OCI image without a registry or a Docker engine: prepares the root filesystem
# (the pinned Node binary, the libraries it links, the dynamic loader, CA certificates, the
# nonroot user, /tmp, and apps/vmcp bundled into one JS file with the example), runs Debian's
# `buildah bud` on deploy/image/Containerfile (FROM scratch, COPY only) and writes an OCI archive
# that `docker load`, `podman load` and `kind load image-archive` accept.
#
# Usage: bash deploy/image/build.sh [--out-dir DIR] [--skip-app-build] [--docker-archive]
#        bash deploy/image/build.sh --tools-only
#   --out-dir DIR      where the archive goes (default: dist/ of the repository)
#   --skip-app-build   the workspace packages are built already (e.g. inside a turbo task)
#   --docker-archive   also write vmcp-<version>.docker.tar (`docker load` before Docker 25)
#   --tools-only       only install what the build needs (buildah), then exit
#
# The image is named config.image:version of apps/vmcp/package.json (ghcr.io/vmcp-status/vmcp:
# 0.1.0), the image `vmcp manifests` deploys. Installs buildah with apt-get when it is missing. Progress
# goes to stderr; stdout is only the archive's path. Nothing is kept outside --out-dir: buildah
# works in a throw-away storage folder there.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

out_dir="$repo/dist"
build_app=1
docker_archive=0
tools_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out-dir) out_dir=$(mkdir -p "$2" && cd "$2" && pwd); shift 2 ;;
    --skip-app-build) build_app=0; shift ;;
    --docker-archive) docker_archive=1; shift ;;
    --tools-only) tools_only=1; shift ;;
    --) shift ;; # pnpm image -- --docker-archive passes the separator on
    *) echo "build.sh: unknown option $1 (see the usage at the top of deploy/image/build.sh)" >&2; exit 2 ;;
  esac
done

step() { printf '[image] %s\n' "$*" >&2; }
die() { printf '[image] error: %s\n' "$*" >&2; exit 1; }
human() { numfmt --to=iec-i --suffix=B --format='%.1f' "$1"; }

# --- tools ---------------------------------------------------------------------------------
if ! command -v buildah >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "buildah is missing and there is no apt-get: install buildah"
  step "installing buildah (Debian)"
  if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo -n); fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends buildah >/dev/null ||
    { "${sudo[@]}" apt-get update -q >/dev/null &&
      "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends buildah >/dev/null; } ||
    die "could not install buildah (needs root or passwordless sudo): apt-get install buildah"
fi
[ "$tools_only" -eq 0 ] || exit 0

# The pinned Node (the root package.json's devDependency `node`) runs the app in the image.
node_bin=$(readlink -f node_modules/node/bin/node 2>/dev/null || true)
[ -x "$node_bin" ] || die "no node_modules/node/bin/node: run pnpm install first"
pinned=$("$node_bin" -p 'require("./package.json").devDependencies.node')
[ "$("$node_bin" --version)" = "v$pinned" ] || die "node_modules/node is not the pinned node $pinned: run pnpm install"
pkg() { "$node_bin" -p "require('./apps/vmcp/package.json').$1 ?? ''"; }
version=$(pkg version)
[ -n "$(pkg config?.image)" ] || die "apps/vmcp/package.json has no config.image (the image's repository)"

# --- the app ---------------------------------------------------------------------------------
if [ "$build_app" -eq 1 ]; then
  step "building the workspace packages vmcp depends on"
  pnpm exec turbo run build --filter=@vmcp-status/vmcp... --output-logs=errors-only >&2
fi

work="$out_dir/image-build"
rm -rf "$work"
mkdir -p "$work"
cleanup() {
  # buildah's storage holds read-only layer folders: make them removable first.
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
runtime="$work/context/runtime"
app="$work/context/app"

step "bundling apps/vmcp and the example backends (tsup, every dependency inlined)"
pnpm exec tsup --config deploy/image/tsup.config.ts --out-dir "$app" --silent >&2

# The example config with the backends it runs bundled to .js (the image has no TypeScript).
mkdir -p "$app/examples"
{
  echo "# apps/vmcp/examples/vmcp.yaml as deploy/image/build.sh puts it into the image: its stdio"
  echo "# backends bundled to .js next to it. The image's CMD serves it on 0.0.0.0."
  sed -e '1,/^[^#]/{/^#/d}' -e 's#\(backends/[A-Za-z0-9_-]*\)\.ts\b#\1.js#g' apps/vmcp/examples/vmcp.yaml
} >"$app/examples/vmcp.yaml"
for backend in $(grep -o 'backends/[A-Za-z0-9_-]*\.[a-z]*' "$app/examples/vmcp.yaml"); do
  [ -f "$app/examples/$backend" ] || die "the example config runs $backend, which the bundle does not have: add it to deploy/image/tsup.config.ts"
done

# The name `vmcp manifests` deploys too (ManifestDefaults.image): config.image:version.
image="$(pkg config.image):$version"

# --- the runtime -------------------------------------------------------------------------------
step "assembling the runtime: node $pinned, its libraries, CA certificates, user nonroot (65532)"
install -D -m 0755 "$node_bin" "$runtime/usr/local/bin/node"
# The symbol table and debug information only (the dynamic symbols native addons link against
# stay): the binary runs the same, 18 MB smaller.
if command -v strip >/dev/null 2>&1; then strip --strip-all "$runtime/usr/local/bin/node"; fi
# Every library `ldd` resolves, and the dynamic loader, at the paths the binary looks them up.
for lib in $(ldd "$node_bin" | grep -o '/[^ ]*'); do
  install -D -m 0755 "$(readlink -f "$lib")" "$runtime$lib"
done
interpreter=$(ldd "$node_bin" | awk '/ld-linux/ { print $1 }')
[ -f "$runtime$interpreter" ] || die "the dynamic loader of $node_bin was not found by ldd"

if [ ! -f /etc/ssl/certs/ca-certificates.crt ]; then
  step "installing ca-certificates (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ca-certificates >/dev/null ||
    die "could not install ca-certificates: apt-get install ca-certificates"
fi
install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$runtime/etc/ssl/certs/ca-certificates.crt"

# HOME is /tmp: under readOnlyRootFilesystem the only writable folder (an emptyDir).
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin\n' \
  >"$runtime/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$runtime/etc/group"
printf 'hosts: files dns\n' >"$runtime/etc/nsswitch.conf"
chmod 0644 "$runtime"/etc/{passwd,group,nsswitch.conf}
# Mount points a runtime fills (proc, dev, sys) and a /tmp anyone may write to.
mkdir -p "$runtime"/{proc,dev,sys,tmp}
chmod 1777 "$runtime/tmp"
"$runtime$interpreter" --library-path "$runtime$(dirname "$interpreter")" "$runtime/usr/local/bin/node" --version >/dev/null ||
  die "the node in the root filesystem does not start with the libraries copied next to it"

# --- the image ---------------------------------------------------------------------------------
storage=(--root "$work/storage" --runroot "$work/run" --storage-driver vfs)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
# The commit's time, not now: the same commit gives the same image.
epoch=$(git log -1 --format=%ct 2>/dev/null || date +%s)
source_url=$("$node_bin" -p 'require("./packages/core/package.json").repository.url.replace(/^git\+/, "").replace(/\.git$/, "")')

step "buildah bud $image (FROM scratch, COPY only)"
buildah "${storage[@]}" bud --quiet --layers --timestamp "$epoch" \
  -f deploy/image/Containerfile -t "$image" \
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
  --build-arg "SOURCE=$source_url" --build-arg "LICENSES=$(pkg license)" \
  --build-arg "DESCRIPTION=$(pkg description)" \
  "$work/context" >/dev/null

archive="$out_dir/vmcp-$version.oci.tar"
step "writing $archive"
buildah "${storage[@]}" push --quiet "$image" "oci:$work/layout:$image" >/dev/null
# buildah names the image in org.opencontainers.image.ref.name (podman load); Docker 25+ and
# containerd (kind) read io.containerd.image.name.
"$node_bin" -e '
  const fs = require("node:fs")
  const [file, image] = process.argv.slice(1)
  const index = JSON.parse(fs.readFileSync(file, "utf8"))
  for (const m of index.manifests) m.annotations = { ...m.annotations, "io.containerd.image.name": image }
  fs.writeFileSync(file, JSON.stringify(index))
' "$work/layout/index.json" "$image"
tar --create --file "$archive.tmp" --directory "$work/layout" --sort=name \
  --owner=0 --group=0 --numeric-owner --mtime="@$epoch" oci-layout index.json blobs
mv "$archive.tmp" "$archive"

if [ "$docker_archive" -eq 1 ]; then
  step "writing $out_dir/vmcp-$version.docker.tar"
  buildah "${storage[@]}" push --quiet "$image" "docker-archive:$out_dir/vmcp-$version.docker.tar:$image" >/dev/null
fi

unpacked=$(du -sb "$work/context" | cut -f1)
step "done: $image in $archive, $(human "$(stat -c %s "$archive")") (unpacked $(human "$unpacked"))"
echo "$archive"
