#!/usr/bin/env bash
# Installs the real Claude Code versions the claude lab and the `cr` end-to-end tests drive,
# each into ${CR_CLAUDE_DIR:-~/.cache/claude-remote/claude}/<version>/ with a bin/claude
# launcher. Idempotent: a version whose launcher already reported the right --version is left
# alone, and a run with everything in place prints nothing and downloads nothing.
#
#   2.0.76   @anthropic-ai/claude-code            cli.js, run with node (last 2.0.x)
#   2.1.112  @anthropic-ai/claude-code            cli.js, run with node (last version with cli.js)
#   2.1.329  @anthropic-ai/claude-code-linux-x64  native Bun binary (~166 MB packed; -arm64 on arm)
#
# Usage: tests/claude/install.sh [VERSION...]   (default: all three)
set -euo pipefail

root="${CR_CLAUDE_DIR:-$HOME/.cache/claude-remote/claude}"
# A marker written only after `--version` answered correctly, so an interrupted download is
# retried instead of being taken for an install.
stamp=.verified

die() { printf 'tests/claude/install.sh: %s\n' "$*" >&2; exit 1; }

# pack_into NPM_SPEC DIR: fetch the package tarball through npm (its cache makes re-runs cheap)
# and unpack it into DIR/package.
pack_into() {
    local spec=$1 dir=$2 tgz
    tgz=$(cd "$dir" && npm pack --loglevel=error "$spec" 2>"$dir/npm.err") \
        || die "npm pack $spec failed: $(tail -n 3 "$dir/npm.err")"
    tar -xzf "$dir/$tgz" -C "$dir" || die "cannot unpack $tgz"
    rm -f "$dir/$tgz" "$dir/npm.err"
}

# The download in progress, removed on any exit so a failed run leaves no half install.
tmp=""
trap 'if [[ -n $tmp ]]; then rm -rf "$tmp"; fi' EXIT

# True when version $1 <= $2.
version_le() { [[ $(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1) == "$1" ]]; }

install_version() {
    local version=$1 dest="$root/$1"
    if [[ -x "$dest/bin/claude" && -f "$dest/$stamp" ]]; then
        return 0
    fi
    command -v npm >/dev/null || die "npm is needed (Node 20) to install Claude Code $version"
    mkdir -p "$root"
    tmp=$(mktemp -d "$root/.install-$version.XXXXXX")
    chmod 755 "$tmp"
    mkdir -p "$tmp/bin"
    if version_le "$version" 2.1.112; then
        # Up to 2.1.112 the npm package is a self-contained cli.js for node.
        pack_into "@anthropic-ai/claude-code@$version" "$tmp"
        [[ -f "$tmp/package/cli.js" ]] || die "@anthropic-ai/claude-code@$version has no cli.js"
        cat >"$tmp/bin/claude" <<'LAUNCHER'
#!/bin/sh
# Launcher for a cli.js build of Claude Code, installed by tests/claude/install.sh.
exec node "$(dirname "$(readlink -f "$0")")/../package/cli.js" "$@"
LAUNCHER
    else
        # Later versions ship a native binary per platform; the main package only copies it.
        local arch
        case $(uname -m) in
            x86_64) arch=x64 ;;
            aarch64 | arm64) arch=arm64 ;;
            *) die "no Claude Code $version binary for $(uname -m)" ;;
        esac
        pack_into "@anthropic-ai/claude-code-linux-$arch@$version" "$tmp"
        [[ -f "$tmp/package/claude" ]] \
            || die "@anthropic-ai/claude-code-linux-$arch@$version has no claude binary"
        chmod +x "$tmp/package/claude"
        ln -s ../package/claude "$tmp/bin/claude"
    fi
    chmod +x "$tmp/bin/claude"
    local got
    got=$("$tmp/bin/claude" --version 2>&1) || die "claude $version --version failed: $got"
    [[ $got == "$version "* ]] || die "claude $version --version printed '$got'"
    touch "$tmp/$stamp"
    rm -rf "$dest"
    mv "$tmp" "$dest"
    tmp=""
}

versions=("$@")
[[ ${#versions[@]} -gt 0 ]] || versions=(2.0.76 2.1.112 2.1.329)
for v in "${versions[@]}"; do
    install_version "$v"
done
