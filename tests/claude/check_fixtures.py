"""Replays every captured `.raw` through a terminal emulator (pyte) at its recorded size and
checks that it reproduces the `.txt`; also checks each `.json` against its screen (every
option label is on it, exactly one option is focused) and the size budget of the `.raw`.

    python3 tests/claude/check_fixtures.py      (the vt100 replay is cr's test: cargo test -p cr --test claude_fixtures)

Ends with the plain `N passed, N failed` line; exits 1 on any failure.
"""

import json
import sys

import lab

FIXTURES = lab.REPO / "crates" / "cli" / "tests" / "fixtures" / "claude"
# Fixtures are committed; a replay longer than this means the capture kept far too much.
RAW_BUDGET = 200 * 1024


def check(meta_path):
    meta = json.loads(meta_path.read_text())
    raw = meta_path.with_suffix(".raw").read_bytes()
    want = meta_path.with_suffix(".txt").read_text().split("\n")[:-1]
    got = lab.emulate(raw, meta["rows"], meta["cols"])
    problems = []
    if len(raw) > RAW_BUDGET:
        problems.append(f"{len(raw)} bytes of raw, over {RAW_BUDGET}")
    if got != want:
        diff = [f"row {i}: want {w!r} got {g!r}" for i, (w, g) in enumerate(zip(want, got)) if w != g]
        problems.append("screen differs: " + "; ".join(diff[:3] or [f"{len(want)} vs {len(got)} rows"]))
    dialog = meta.get("dialog")
    if dialog:
        text = "\n".join(lab.unbox(l) for l in want)
        for opt in dialog["options"]:
            # A wrapped label is stored joined; check its first row's words.
            if opt["label"].split(" ")[0] not in text:
                problems.append(f"option {opt['label']!r} not on screen")
        if sum(o["focused"] for o in dialog["options"]) != 1:
            problems.append("not exactly one focused option")
    return problems


def main():
    metas = sorted(FIXTURES.rglob("*.json"))
    metas = [m for m in metas if m.with_suffix(".raw").exists()]
    passed = failed = 0
    for m in metas:
        problems = check(m)
        if problems:
            failed += 1
            print(f"FAIL {m.relative_to(FIXTURES)}: " + " | ".join(problems))
        else:
            passed += 1
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not metas else 0)


if __name__ == "__main__":
    main()
