#!/usr/bin/env bash
# Installs the real Claude Code versions the claude lab and the `cr` end-to-end tests drive,
# each into ${CR_CLAUDE_DIR:-~/.cache/claude-remote/claude}/<version>/ with a bin/claude
# launcher. Idempotent: a version whose launcher already reported the right --version is left
# alone, and a run with everything in place prints nothing and downloads nothing.
#
#   2.0.76   @anthropic-ai/claude-code            cli.js, run with node (last 2.0.x)
#   2.1.112  @anthropic-ai/claude-code            cli.js, run with node (last version with cli.js)
#   2.1.329  @anthropic-ai/claude-code-linux-x64  native Bun binary (~166 MB packed)
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
    tgz=$(cd "$dir" && npm pack --silent "$spec" 2>"$dir/npm.err") \
        || die "npm pack $spec failed: $(tail -n 3 "$dir/npm.err")"
    tar -xzf "$dir/$tgz" -C "$dir" || die "cannot unpack $tgz"
    rm -f "$dir/$tgz" "$dir/npm.err"
}

install_version() {
    local version=$1 dest="$root/$1" tmp
    if [[ -x "$dest/bin/claude" && -f "$dest/$stamp" ]]; then
        return 0
    fi
    command -v npm >/dev/null || die "npm is needed (Node 20) to install Claude Code $version"
    mkdir -p "$root"
    tmp=$(mktemp -d "$root/.install-$version.XXXXXX")
    trap 'rm -rf "$tmp"' RETURN
    chmod 755 "$tmp"
    mkdir -p "$tmp/bin"
    case $version in
        2.0.* | 2.1.112 | 2.1.[0-9] | 2.1.[0-9][0-9] | 2.1.10[0-9] | 2.1.11[0-2])
            # Up to 2.1.112 the npm package is a self-contained cli.js for node.
            pack_into "@anthropic-ai/claude-code@$version" "$tmp"
            [[ -f "$tmp/package/cli.js" ]] || die "@anthropic-ai/claude-code@$version has no cli.js"
            cat >"$tmp/bin/claude" <<'LAUNCHER'
#!/bin/sh
# Launcher for a cli.js build of Claude Code, installed by tests/claude/install.sh.
exec node "$(dirname "$(readlink -f "$0")")/../package/cli.js" "$@"
LAUNCHER
            ;;
        *)
            # Later versions ship a native binary per platform; the main package only copies it.
            pack_into "@anthropic-ai/claude-code-linux-x64@$version" "$tmp"
            [[ -f "$tmp/package/claude" ]] \
                || die "@anthropic-ai/claude-code-linux-x64@$version has no claude binary"
            chmod +x "$tmp/package/claude"
            ln -s ../package/claude "$tmp/bin/claude"
            ;;
    esac
    chmod +x "$tmp/bin/claude"
    local got
    got=$("$tmp/bin/claude" --version 2>&1) || die "claude $version --version failed: $got"
    [[ $got == "$version "* ]] || die "claude $version --version printed '$got'"
    touch "$tmp/$stamp"
    rm -rf "$dest"
    mv "$tmp" "$dest"
}

versions=("$@")
[[ ${#versions[@]} -gt 0 ]] || versions=(2.0.76 2.1.112 2.1.329)
for v in "${versions[@]}"; do
    install_version "$v"
done
