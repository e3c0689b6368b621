#!/usr/bin/env bash
# Installs code-server 4.96.4 (= VS Code 1.96.4 on Node 20) into .tools/code-server-4.96.4/ so the
# extension's tests run in a real VS Code without downloading VS Code itself (this machine reaches
# only the npm registry and apt; @vscode/test-electron's download fails). test/support/vscode/ runs it.
# Recipe and reasons: test/support/vscode/README.md.
#
# A plain `npm install code-server` fails three ways here, so the install is done by hand:
#   - its postinstall refuses to run as root (npm 11 has no --unsafe-perm): install with
#     --ignore-scripts and do the postinstall's steps (below) ourselves;
#   - the bundled VS Code's shrinkwrap points @vscode/proxy-agent at a GitHub git URL: point it at the
#     registry tarball of the same version (same integrity hash);
#   - @vscode/ripgrep's postinstall downloads rg from GitHub: link Debian's /usr/bin/rg instead.
#
# Idempotent: a marker file written last; a second run prints "already installed" and does nothing.
# A run that stopped half-way (no marker) is wiped and redone. Override the folder with CODE_SERVER_DIR.
# Needs: node 20, npm, make, g++, python3, libkrb5-dev (kerberos), ripgrep (scripts/ci-install.sh).
set -euo pipefail

VERSION=4.96.4
PROXY_AGENT=@vscode/proxy-agent@0.27.0
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${CODE_SERVER_DIR:-$ROOT/.tools/code-server-$VERSION}"
MARKER="$DEST/.installed"
CS="$DEST/node_modules/code-server"
VSC="$CS/lib/vscode"

say() { echo "install-code-server: $*"; }
run() { say "+ $*"; "$@"; }

# The Node that built the native modules, which must also run code-server: the tests may run on
# Node 22 (scripts/install-node.sh) while VS Code 1.96 stays on Node 20 (test/support/vscode/codeServer.ts
# reads this file).
NODE_PATH_FILE="$DEST/node-path"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
node_bin="$(node -p 'process.execPath')"

if [[ -f "$MARKER" ]]; then
  if [[ ! -f "$NODE_PATH_FILE" ]]; then
    # An install made before node-path existed: it was built by this machine's Node 20 (checked below).
    [[ "$node_major" == 20 ]] || { say "$DEST has no node-path and this is Node $node_major: remove $DEST and run this script with Node 20" >&2; exit 1; }
    echo "$node_bin" >"$NODE_PATH_FILE"
    say "recorded $node_bin in $NODE_PATH_FILE"
  fi
  say "code-server $VERSION already installed in $DEST ($(cat "$MARKER")); nothing to do"
  exit 0
fi

# Check the prerequisites first: a failure 40 s into native builds is harder to read.
if [[ "$node_major" != 20 ]]; then
  say "code-server $VERSION needs Node 20 (its native modules are built for it); this is Node $node_major" >&2
  exit 1
fi
for tool in npm make g++ python3 krb5-config; do
  command -v "$tool" >/dev/null 2>&1 || { say "missing $tool (run scripts/ci-install.sh)" >&2; exit 1; }
done
[[ -x /usr/bin/rg ]] || { say "missing /usr/bin/rg (apt-get install ripgrep)" >&2; exit 1; }

start=$SECONDS
if [[ -e "$DEST" ]]; then
  # Only ever wipe a folder this script made (its scratch package.json), never a mistyped CODE_SERVER_DIR.
  if ! grep -qs '"code-server-tool"' "$DEST/package.json" && [[ -n "$(ls -A "$DEST" 2>/dev/null)" ]]; then
    say "$DEST exists and is not an install of this script; not touching it" >&2
    exit 1
  fi
  say "removing an unfinished install in $DEST (no marker)"
  rm -rf -- "$DEST"
fi
mkdir -p "$DEST"

say "1/6 code-server $VERSION from npm, scripts off (its postinstall refuses root)"
cat >"$DEST/package.json" <<'JSON'
{ "name": "code-server-tool", "private": true, "description": "scratch package for scripts/install-code-server.sh" }
JSON
(cd "$DEST" && run npm install --ignore-scripts --no-audit --no-fund --no-save "code-server@$VERSION")
(cd "$DEST" && run npm rebuild argon2)

say "2/6 shrinkwrap: vscode-proxy-agent from its registry tarball instead of a GitHub git URL"
tarball="$(npm view "$PROXY_AGENT" dist.tarball)"
[[ -n "$tarball" ]] || { say "npm view $PROXY_AGENT dist.tarball returned nothing" >&2; exit 1; }
TARBALL="$tarball" node -e '
  const fs = require("node:fs");
  const file = process.argv[1];
  const sw = JSON.parse(fs.readFileSync(file, "utf8"));
  const entry = sw.packages["node_modules/@vscode/proxy-agent"];
  if (!entry) throw new Error("no @vscode/proxy-agent in " + file);
  if (!String(entry.resolved).startsWith("git")) throw new Error("unexpected resolved: " + entry.resolved);
  entry.resolved = process.env.TARBALL;
  fs.writeFileSync(file, JSON.stringify(sw, null, 2) + "\n");
  console.log("install-code-server:   resolved -> registry tarball (integrity unchanged)");
' "$VSC/npm-shrinkwrap.json"

say "3/6 VS Code's own dependencies, then their native modules"
(cd "$VSC" && run npm install --omit=dev --ignore-scripts --no-audit --no-fund)
(cd "$VSC" && run env npm_config_yes=true npm rebuild @parcel/watcher @vscode/spdlog @vscode/deviceid kerberos native-watchdog node-pty)

say "4/6 ripgrep: Debian's /usr/bin/rg (its postinstall would download from GitHub)"
mkdir -p "$VSC/node_modules/@vscode/ripgrep/bin"
run ln -sfn /usr/bin/rg "$VSC/node_modules/@vscode/ripgrep/bin/rg"

say "5/6 the links code-server's postinstall makes"
(cd "$VSC" && run ln -sfn node_modules node_modules.asar)
(cd "$VSC/bin/remote-cli" && run ln -sfn code-linux.sh code-server)
(cd "$VSC/bin/helpers" && run ln -sfn browser-linux.sh browser.sh)

say "6/6 built-in extensions' shared dependencies"
(cd "$VSC/extensions" && run npm install --omit=dev --ignore-scripts --no-audit --no-fund)
(cd "$VSC/extensions" && run node ./postinstall.mjs)

# A smoke check before the marker: the entry point loads and reports its version. Even --version
# writes a default config and a log under ~/.config and ~/.local: give it a throwaway HOME.
scratch="$(mktemp -d)"
got="$(HOME="$scratch" XDG_CONFIG_HOME="$scratch/config" XDG_DATA_HOME="$scratch/data" \
  node "$CS/out/node/entry.js" --version 2>/dev/null | grep -m1 -E '^[0-9]+\.[0-9]+\.[0-9]+ ' || true)"
rm -rf -- "$scratch"
[[ "$got" == "$VERSION"* ]] || { say "code-server --version printed '$got', expected $VERSION" >&2; exit 1; }

echo "$node_bin" >"$NODE_PATH_FILE"
echo "code-server $VERSION installed $(date -u +%Y-%m-%dT%H:%M:%SZ) in $((SECONDS - start)) s" >"$MARKER"
say "done in $((SECONDS - start)) s: $CS ($(du -sh "$DEST" | cut -f1))"
