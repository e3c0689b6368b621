#!/usr/bin/env bash
# Installs the Debian 12 packages the tests and benchmarks use, if any are missing.
# Idempotent: when everything is installed it changes nothing (no apt-get update either).
#
#   radosgw ceph-mon ceph-osd  - a real S3 server (Ceph RADOS Gateway), see scripts/rgw.sh
#   awscli rclone s3cmd python3-boto3 - independent S3 clients for cross-checks and benchmarks
#   s3fs fuse3                 - an S3 FUSE mount (renames, chmod, touch) and fusermount3 to unmount it
#   python3-zmq python3-yaml   - an independent ZMQ peer and YAML for the fake sleap-nn (trainer tests)
#   python3-aiortc python3-websockets - an independent WebRTC peer and its signaling client (interop tests)
#   chromium                   - headless browser for the VS Code extension/webview tests
#   libkrb5-dev build-essential ripgrep - native npm builds and tooling the editor tests expect
#   faketime                   - libfaketime: a server whose clock is off (test/server/clockSkew.test.ts)
#
# Then installs code-server for the VS Code extension tests (scripts/install-code-server.sh, also
# idempotent). Uses sudo for apt when not run as root. Prints what it did.
set -euo pipefail

PACKAGES=(
  radosgw ceph-mon ceph-osd
  awscli rclone s3cmd python3-boto3 s3fs fuse3
  python3-zmq python3-yaml python3-aiortc python3-websockets
  chromium libkrb5-dev ripgrep build-essential
  faketime
  # The Python client's tests and the example notebook (clients/python, examples/), run with Debian's python3:
  # nbclient executes the notebook,
  python3-nbclient
  # ipykernel is the kernel it runs in,
  python3-ipykernel
  # nbformat reads and checks the notebook file,
  python3-nbformat
  # pandas for job.history_df() and the notebook's metrics table,
  python3-pandas
  # matplotlib for job.plot() and job.live_plot(),
  python3-matplotlib
  # tqdm for the upload progress bar (the client falls back to a plain line without it).
  python3-tqdm
)

is_installed() {
  # dpkg -s succeeds for removed-but-configured packages too; require "install ok installed".
  # Compared as a string, not piped to `grep -q`: grep exits at its first match, dpkg then dies of
  # SIGPIPE on a long record (rclone's), and under pipefail an installed package read as missing.
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == 'install ok installed' ]]
}

missing=()
for p in "${PACKAGES[@]}"; do
  if ! is_installed "$p"; then missing+=("$p"); fi
done

install_missing() {
  SUDO=()
  if ((EUID != 0)); then
    if command -v sudo >/dev/null 2>&1; then
      SUDO=(sudo)
    else
      echo "ci-install: missing ${missing[*]}; need root or sudo to install them" >&2
      exit 1
    fi
  fi

  echo "ci-install: missing ${#missing[@]} package(s): ${missing[*]}"
  echo "ci-install: running apt-get update"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
  echo "ci-install: running apt-get install -y --no-install-recommends ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"

  still=()
  for p in "${missing[@]}"; do
    if ! is_installed "$p"; then still+=("$p"); fi
  done
  if ((${#still[@]} > 0)); then
    echo "ci-install: still missing after install: ${still[*]}" >&2
    exit 1
  fi
  echo "ci-install: installed ${missing[*]}"
}

if ((${#missing[@]} == 0)); then
  echo "ci-install: all ${#PACKAGES[@]} packages already installed (${PACKAGES[*]}); nothing to do"
else
  install_missing
fi

"$(dirname "${BASH_SOURCE[0]}")/install-code-server.sh"
