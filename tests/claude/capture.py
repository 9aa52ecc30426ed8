"""Captures real Claude Code screens as fixtures for `cr`'s dialog detector, and verifies live
which keys answer each dialog.

    python3 tests/claude/capture.py [--version V ...] [--only NAME ...] [--no-verify]

For every version and scenario below it runs the real `claude` (tests/claude/install.sh) in a
PTY against the mock API (mock-anthropic.mjs), waits for the dialog to settle, and writes
`crates/cli/tests/fixtures/claude/<version>/<name>-<cols>x<rows>-<renderer>.{raw,txt,json}`.
Then, in fresh sessions at 100x32, it presses each option's key (and Esc, and Tab + feedback
on tool dialogs) and records in the `.json` what happened: whether the dialog closed, what
tool_result reached the mock, which transcript lines appeared. Screens after some answers are
kept as near-miss fixtures (`after-*`). See tests/claude/README.md.
"""

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass, field

import lab

FIXTURES = lab.REPO / "crates" / "cli" / "tests" / "fixtures" / "claude"
VERSIONS = ["2.0.76", "2.1.112", "2.1.329"]
SIZES = [(32, 100), (14, 80)]  # (rows, cols); 80x14 scrolls the dialog's title away
VERIFY_SIZE = (32, 100)
FEEDBACK = "Use printf instead"
# How long a key gets to close a dialog before the lab records that it did not.
ANSWER_TIMEOUT = 8.0

KEY_NAMES = {"\x1b": "Esc", "\r": "Enter", "\t": "Tab", "\x1b[A": "Up", "\x1b[B": "Down", "\x1b[C": "Right",
             "\x1b[Z": "Shift+Tab"}


@dataclass
class Scenario:
    name: str
    kind: str | None  # tool / plan / question / choice / confirm; None for a near-miss
    prompt: str | None = None
    # On screen while the dialog is open (any of them: 2.0.76's MCP tool dialog has no footer).
    marker: tuple = ("Esc to cancel",)
    session: dict = field(default_factory=dict)
    versions: tuple = tuple(VERSIONS)
    after: bool = False  # keep the screens after each verified answer as fixtures
    custom_answers: tuple = ()  # (name, [steps]) run in addition to the per-option keys
    ready: str | None = None  # near-miss: wait for this text instead of a dialog


P, O = lab.PROJECT, lab.OUTSIDE
LOOKALIKE = r"Pick one:\n\n❯ 1. Yes\n  2. No\n\nEsc to cancel"

SCENARIOS = [
    Scenario("idle", None),
    Scenario("bash-suggest", "tool", 'RUN:BASH python3 -c "print(42)"', after=True),
    Scenario("bash-plain", "tool", "RUN:BASH echo $(date) > /dev/null"),
    Scenario("bash-dir", "tool", "RUN:BASH touch hello.txt && ls"),
    Scenario("edit", "tool", f"RUN:EDIT {P}/notes.txt|alpha|beta"),
    Scenario("write", "tool", f"RUN:WRITE {P}/new.py|print(1)"),
    Scenario("read-outside", "tool", f"RUN:READ {O}/secret.txt"),
    Scenario("fetch", "tool", "RUN:FETCH https://example.com/page",
             marker=("Do you want to allow Claude to fetch",)),
    Scenario("plan", "plan", r"RUN:PLAN Plan: add greeting\n\n1. Create hello.txt\n2. Run the tests",
             marker=("what to change",), session={"mode": "plan"}, after=True),
    Scenario("ask", "question", "RUN:ASK Which database should we use?|Postgres|SQLite",
             marker=("Enter to select",), after=True),
    Scenario("ask-multi", "question",
             "RUN:ASK Which database should we use?|Postgres|SQLite ;; *Which features do you want?|Auth|Metrics|Logs",
             marker=("Enter to select",), after=True,
             custom_answers=(("answer-all", ["2", "1", "3", "\x1b[C", "1"]),)),
    Scenario("trust", "confirm", marker=("Enter to confirm",), session={"trusted": False}),
    Scenario("mcp-approval", "choice", marker=("Enter to confirm",), session={"mcp": "new"}),
    Scenario("mcp-tool", "tool", 'RUN:MCP demo|echo|{"text":"hello"}', session={"mcp": "enabled"},
             marker=("Esc to cancel", "No, and tell Claude what to do differently")),
    Scenario("lookalike", None, "RUN:TEXT " + LOOKALIKE, ready="Esc to cancel"),
]


def dialog_open(sc, lines):
    text = "\n".join(lines)
    return any(m in text for m in sc.marker)


def renderers(version):
    return ["main", "alt"] if lab.version_tuple(version) >= (2, 1, 200) else ["main"]


def is_idle(lines):
    """The input box: a `❯`/`>` row between two full-width rules."""
    for i in range(1, len(lines) - 1):
        s = lines[i].strip()
        if (s.startswith("❯") or s.startswith(">")) and lab.is_rule(lines[i - 1], 40) and lab.is_rule(lines[i + 1], 40):
            return True
    return False


def open_session(version, sc, rows, cols, renderer):
    """A session with `sc`'s dialog (or near-miss screen) on screen and settled."""
    s = lab.Session(version, rows=rows, cols=cols, renderer=renderer, **sc.session)
    try:
        p = s.pty
        if sc.prompt:
            p.wait(is_idle, what="the idle input box")
            p.settle()
            p.submit(sc.prompt)
        if sc.kind:
            p.wait(lambda ls: dialog_open(sc, ls), what=f"dialog {sc.marker}")
        elif sc.ready:
            p.wait(lambda ls: sc.ready in "\n".join(ls[:-3]) and is_idle(ls), what=sc.ready)
        else:
            p.wait(is_idle, what="the idle input box")
        return s
    except BaseException:
        s.close()
        raise


def fixture_name(sc_name, rows, cols, renderer):
    return f"{sc_name}-{cols}x{rows}-{renderer}"


def write_fixture(version, name, raw, meta):
    out = FIXTURES / version
    out.mkdir(parents=True, exist_ok=True)
    lines = lab.emulate(raw, meta["rows"], meta["cols"])
    (out / f"{name}.raw").write_bytes(raw)
    (out / f"{name}.txt").write_text("\n".join(lines) + "\n")
    (out / f"{name}.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    return lines


def base_meta(version, sc, rows, cols, renderer, raw, argv):
    return {
        "version": version,
        "rows": rows,
        "cols": cols,
        # What the bytes did, not what was asked for: 2.1.3xx's renderer switches to the
        # alternate screen with DECSET 1049.
        "renderer": "alternate" if b"\x1b[?1049h" in raw else "main",
        "scenario": sc.name,
        "typed": sc.prompt,
        "argv": ["claude"] + argv[1:],
        "settled": True,
        "bytes": len(raw),
    }


def capture(version, sc, rows, cols, renderer, answers):
    """One fixture (plus the mid-draw near-miss for bash-suggest at 100x32)."""
    with open_session(version, sc, rows, cols, renderer) as s:
        p = s.pty
        cut = p.settle()
        raw = bytes(p.raw[:cut])
        chunks = [end for end, _ in p.chunks if end <= cut]
        argv = s.argv
    name = fixture_name(sc.name, rows, cols, renderer)
    meta = base_meta(version, sc, rows, cols, renderer, raw, argv)
    lines = lab.emulate(raw, rows, cols)
    dialog = lab.parse_dialog(lines, cols, sc.kind) if sc.kind else None
    if sc.kind and dialog is None:
        raise RuntimeError(f"{version} {name}: no option block found on\n" + "\n".join(lines))
    if dialog:
        for opt in dialog["options"]:
            key = option_key(dialog, opt)
            if key is not None:
                opt["key"] = key
            verified = answers.get(option_action_name(opt))
            if verified:
                opt["answer"] = verified
        extra = {k: v for k, v in answers.items() if not k.startswith("option-")}
        if extra:
            dialog["other_keys"] = extra
        if answers:
            dialog["verified_in"] = f"{fixture_name(sc.name, *VERIFY_SIZE, renderer)} (fresh sessions, live)"
    meta["dialog"] = dialog
    write_fixture(version, name, raw, meta)
    print(f"  {version}/{name}: {len(raw)} bytes", flush=True)
    if sc.name == "bash-suggest" and (rows, cols) == VERIFY_SIZE:
        capture_middraw(version, sc, raw, chunks, rows, cols, renderer, argv)


def capture_middraw(version, sc, raw, chunks, rows, cols, renderer, argv):
    """A prefix of the real byte stream that leaves the dialog half drawn: title on screen,
    footer not yet. Prefers a real read() boundary; falls back to a byte offset."""
    settled = lab.parse_dialog(lab.emulate(raw, rows, cols), cols, sc.kind)
    last_option = settled["options"][-1]["label"]

    def half(prefix):
        text = "\n".join(lab.emulate(prefix, rows, cols))
        return "Bash command" in text and last_option not in text

    cut = next((end for end in reversed(chunks) if half(raw[:end])), None)
    how = "read boundary"
    if cut is None:
        how = "byte offset"
        cut = next((n for n in range(len(raw) - 1, 0, -8) if half(raw[:n])), None)
    if cut is None:
        print(f"  {version}: no half-drawn prefix found", flush=True)
        return
    name = fixture_name("middraw", rows, cols, renderer)
    meta = base_meta(version, sc, rows, cols, renderer, raw[:cut], argv)
    meta.update(scenario="middraw", settled=False, dialog=None,
                note=f"first {cut} of the {len(raw)} bytes of bash-suggest-{cols}x{rows}-{renderer}.raw, "
                     f"cut at a {how}: the dialog's title is drawn but its last option is not yet, "
                     "and a detector must wait for the screen to settle")
    write_fixture(version, name, raw[:cut], meta)
    print(f"  {version}/{name}: {cut} bytes ({how})", flush=True)


# ---------------------------------------------------------------------------------------------
# Verifying the keys

INPUT_LABELS = re.compile(r"^(Type here|Tell Claude what to change|Type something)")


def option_action_name(opt):
    return f"option-{opt['number'] if opt['number'] is not None else opt['label']}"


def option_key(dialog, opt):
    """The keys that pick `opt`: its digit on numbered lists, else arrows from the focus + Enter."""
    if opt["number"] is not None:
        return str(opt["number"])
    if not opt["label"] or dialog["kind"] == "question":
        return None
    options = [o for o in dialog["options"] if o["number"] is None]
    focus = next(i for i, o in enumerate(options) if o["focused"])
    target = options.index(opt)
    arrow = "\x1b[B" if target > focus else "\x1b[A"
    return arrow * abs(target - focus) + "\r"


def actions(sc, dialog):
    """(name, steps) to try; a step is a key string, or ("type", text)."""
    out = []
    for opt in dialog["options"]:
        key = option_key(dialog, opt)
        if key is None:
            continue
        steps = [key]
        if INPUT_LABELS.match(opt["label"]):
            steps += [("type", FEEDBACK), "\r"]
        out.append((option_action_name(opt), steps))
    if sc.kind == "tool":
        out.append(("esc", ["\x1b"]))
        numbered = [o for o in dialog["options"] if o["number"] is not None]
        if "Tab" in dialog["footer"]:
            out.append(("tab-on-yes", ["\t", ("type", FEEDBACK), "\r"]))
            last = len(numbered) - 1
            out.append(("tab-on-no", ["\x1b[B" * last, "\t", ("type", FEEDBACK), "\r"]))
    elif sc.kind in ("question", "plan", "confirm", "choice"):
        out.append(("esc", ["\x1b"]))
    out += [(name, list(steps)) for name, steps in sc.custom_answers]
    return out


def describe_keys(steps):
    parts = []
    for step in steps:
        if isinstance(step, tuple):
            parts.append(f"type {step[1]!r}")
        else:
            names = []
            rest = step
            while rest:
                for seq in sorted(KEY_NAMES, key=len, reverse=True):
                    if rest.startswith(seq):
                        names.append(KEY_NAMES[seq])
                        rest = rest[len(seq):]
                        break
                else:
                    names.append(rest[0])
                    rest = rest[1:]
            parts.append(" ".join(names))
    return ", then ".join(parts)


def verify(version, sc, renderer):
    """Runs every action in a fresh session; returns {action: outcome}."""
    rows, cols = VERIFY_SIZE
    with open_session(version, sc, rows, cols, renderer) as s:
        s.pty.settle()
        dialog = lab.parse_dialog(s.pty.lines(), cols, sc.kind)
    results = {}
    for name, steps in actions(sc, dialog):
        results[name] = answer_once(version, sc, renderer, name, steps)
        print(f"    {version} {sc.name} {renderer} {name}: {results[name]['summary']}", flush=True)
    return results


def answer_once(version, sc, renderer, name, steps):
    rows, cols = VERIFY_SIZE
    with open_session(version, sc, rows, cols, renderer) as s:
        p = s.pty
        p.settle()
        before_lines = p.lines()
        before_results = len(s.mock.tool_results())
        before_replies = len(s.mock.replies())
        for step in steps:
            if isinstance(step, tuple):
                p.send(step[1])
                p.wait(lambda ls: any(step[1] in l for l in ls), what=f"typed {step[1]!r}")
            else:
                p.send(step)
            if not p.exited:
                p.settle(quiet=0.7)
        closed = True
        try:
            p.wait(lambda ls: not dialog_open(sc, ls), timeout=ANSWER_TIMEOUT, what="dialog to close")
        except TimeoutError:
            closed = False
        if closed and not p.exited:
            # Let the turn finish: the mock's reply to the tool_result is drawn last.
            time.sleep(0.5)
            p.settle(quiet=1.5)
        cut = len(p.raw)
        after_lines = lab.emulate(bytes(p.raw), rows, cols)
        results = s.mock.tool_results()[before_results:]
        new_lines = [l.strip() for l in after_lines if l.strip() and l not in before_lines
                     and ("⎿" in l or l.lstrip().startswith("●"))]
        outcome = {
            "keys": describe_keys(steps),
            "closed": closed,
            "exited": p.exited,
            "tool_results": [{"is_error": err, "content": text[:400]} for tool_id, err, text in results
                             if not tool_id.endswith("_prep")],
            "mock_replies": [r[:400] for r in s.mock.replies()[before_replies:]],
            "transcript": new_lines[:6],
            "last_line": next((l.strip() for l in reversed(after_lines) if l.strip()), ""),
        }
        if not closed and not p.exited:
            # Still open: record where the keys left it (next question, toggled box, input).
            after = lab.parse_dialog(after_lines, cols, sc.kind)
            if after:
                outcome["dialog_after"] = {"title": after["title"], "options": [
                    ("❯ " if o["focused"] else "  ") + (f"{o['number']}. " if o["number"] else "") + o["label"]
                    for o in after["options"]]}
        settings = lab.PROJECT / ".claude" / "settings.local.json"
        if settings.exists() and sc.session.get("mcp") != "enabled":
            outcome["settings.local.json"] = json.loads(settings.read_text())
        if sc.kind == "confirm":
            state = json.loads((lab.HOME / ".claude.json").read_text())
            outcome["hasTrustDialogAccepted"] = state.get("projects", {}).get(str(lab.PROJECT), {}).get(
                "hasTrustDialogAccepted", False)
        outcome["summary"] = summarize(outcome)
        if sc.after:
            meta = base_meta(version, sc, rows, cols, renderer, bytes(p.raw[:cut]), s.argv)
            meta.update(scenario=f"after-{sc.name}-{name}", dialog=None, answered=outcome)
            write_fixture(version, f"after-{sc.name}-{name}-{cols}x{rows}-{renderer}", bytes(p.raw[:cut]), meta)
    return outcome


def summarize(o):
    if o["exited"]:
        return "claude exited"
    if not o["closed"]:
        after = o.get("dialog_after")
        return "dialog still open" + (f": {after['title']} / {', '.join(after['options'])}" if after else "")
    bits = []
    if "settings.local.json" in o:
        bits.append("settings.local.json " + json.dumps(o["settings.local.json"]))
    if "hasTrustDialogAccepted" in o:
        bits.append(f"hasTrustDialogAccepted={o['hasTrustDialogAccepted']}")
    for r in o["tool_results"]:
        bits.append(("error: " if r["is_error"] else "ok: ") + r["content"][:70].replace("\n", " "))
    bits += o["transcript"][:2]
    return "closed; " + " | ".join(bits)


def retext(meta_path):
    """Rewrites a fixture's .txt and re-reads its dialog from the .raw, keeping the keys and
    answers verified live (matched by position)."""
    meta = json.loads(meta_path.read_text())
    lines = lab.emulate(meta_path.with_suffix(".raw").read_bytes(), meta["rows"], meta["cols"])
    meta_path.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    old = meta.get("dialog")
    if old:
        new = lab.parse_dialog(lines, meta["cols"], old["kind"])
        if new is None or len(new["options"]) != len(old["options"]):
            print(f"  {meta_path.name}: options changed, re-capture it", file=sys.stderr)
        else:
            for o_new, o_old in zip(new["options"], old["options"]):
                o_new.update({k: o_old[k] for k in ("key", "answer") if k in o_old})
            new.update({k: old[k] for k in ("other_keys", "verified_in") if k in old})
            outcomes = [o["answer"] for o in new["options"] if "answer" in o]
            for outcome in outcomes + list(new.get("other_keys", {}).values()):
                outcome["summary"] = summarize(outcome)
                outcome["keys"] = outcome["keys"].replace("Esc [ C", "Right")
            meta["dialog"] = new
            meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="append", help="only these versions (repeatable)")
    ap.add_argument("--only", action="append", help="only these scenarios (repeatable)")
    ap.add_argument("--renderer", action="append", choices=["main", "alt"])
    ap.add_argument("--no-verify", action="store_true", help="skip the live key checks")
    ap.add_argument("--retext", action="store_true",
                    help="only rewrite every .txt from its .raw (after a change to the emulation)")
    args = ap.parse_args()
    if args.retext:
        for meta_path in sorted(FIXTURES.rglob("*.json")):
            if meta_path.with_suffix(".raw").exists():
                retext(meta_path)
        return
    failures = []
    for version in args.version or VERSIONS:
        for sc in SCENARIOS:
            if args.only and sc.name not in args.only or version not in sc.versions:
                continue
            for renderer in renderers(version):
                if args.renderer and renderer not in args.renderer:
                    continue
                try:
                    answers = verify(version, sc, renderer) if sc.kind and not args.no_verify else {}
                    for rows, cols in SIZES:
                        capture(version, sc, rows, cols, renderer, answers)
                except Exception as err:  # keep going: one odd dialog should not stop the rest
                    failures.append(f"{version} {sc.name} {renderer}: {err}")
                    print(f"  FAILED {failures[-1]}", flush=True)
    if failures:
        print("\n".join(["failures:"] + failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
