#!/usr/bin/env bash
# Prepares this Debian machine (root) to build and run the image with rootful Podman: the
# Debian packages, a Podman configuration that works on hybrid cgroups, the files pip needs
# inside the build (handed over as build secrets, never copied into the image) and a Debian
# bookworm minbase image made here with mmdebstrap (no image registry is needed).
# Writes under build/image-test/ only; prints the environment the other scripts source.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=build/image-test
BASE_IMAGE=localhost/regionserve-base:bookworm
mkdir -p "$WORK"

packages=(podman buildah runc containernetworking-plugins conmon catatonit iptables
          slirp4netns fuse-overlayfs uidmap mmdebstrap)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if ((${#missing[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# crun fails on these hybrid cgroups; without the ulimits runc cannot set RLIMIT_NOFILE.
nofile=$(ulimit -Hn)
cat > "$WORK/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF

# pip's network settings of this machine for the build: its index and CA bundle, not the
# local paths (file:// indexes, find-links, constraint files) that do not exist in the build.
python3 - "$WORK/pip.conf" <<'PY'
import subprocess
import sys

listed = subprocess.run(
    [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
).stdout.splitlines()
kept = ("index-url", "extra-index-url", "trusted-host", "timeout", "default-timeout", "retries")
lines = ["[global]"]
for line in listed:
    key, _, value = line.partition("=")
    name, value = key.rsplit(".", 1)[-1], value.strip("'\"")
    urls = [url for url in value.split() if not url.startswith(("file:", "/"))]
    if name in kept and urls:
        lines.append(f"{name} = {' '.join(urls)}")
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
cp "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" "$WORK/ca-bundle.crt"

export CONTAINERS_CONF="$PWD/$WORK/containers.conf"
if ! podman image exists "$BASE_IMAGE"; then
    sources=/etc/apt/sources.list.d/debian.sources
    [ -f "$sources" ] || sources=/etc/apt/sources.list
    mmdebstrap --quiet --variant=minbase bookworm "$WORK/base.tar" "$sources"
    podman import --quiet "$WORK/base.tar" "$BASE_IMAGE" > /dev/null
    rm -f "$WORK/base.tar"
fi
echo "CONTAINERS_CONF=$CONTAINERS_CONF"
echo "BASE_IMAGE=$BASE_IMAGE"
