#!/usr/bin/env bash
# Re-captures every Claude Code fixture from scratch (about 1.5 h on 2 cores) and checks them:
# installs the versions, captures the screens and verifies the keys, captures the hook payloads
# and http answers, then replays every .raw through pyte, and through vt100 with cr's own
# fixture test (detection and keys included).
# Extra arguments go to capture.py and hooks.py (e.g. --version 2.1.329).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/install.sh"
python3 -c 'import pyte' 2>/dev/null || python3 -m pip install --quiet pyte==0.8.2
python3 "$here/capture.py" "$@"
python3 "$here/hooks.py" "$@"
python3 "$here/check_fixtures.py"
cargo test --quiet --manifest-path "$here/../../Cargo.toml" -p cr --test claude_fixtures
