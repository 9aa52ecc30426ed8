"""Captures Claude Code's hook payloads and checks live which `http` hook answers it honours.

    python3 tests/claude/hooks.py [--version V ...] [--only NAME ...] [--skip-payloads] [--skip-http]

1. Payloads: each dialog scenario of capture.py runs once with `--settings` registering a
   command hook on SessionStart, UserPromptSubmit, PreToolUse, PermissionRequest, Notification,
   PostToolUse, Stop and SessionEnd that appends its stdin to a file. The dialog is left alone
   for 7 s (so the `permission_prompt` Notification fires), answered with its first option, and
   Claude Code is quit with Ctrl+D. Written to
   `crates/cli/tests/fixtures/claude/<version>/hooks/<scenario>.jsonl`, one payload a line.
2. http answers (2.1.112, 2.1.329): a PermissionRequest hook of `"type": "http"` pointing at a
   server in this script, which answers with a decision JSON; the outcome (what Claude received,
   what the screen said, whether a rule stuck) goes to `.../hooks/http-answers.json`, and the
   screens after the allow and deny answers are kept as near-miss fixtures
   (`after-hook-allow-*`, `after-hook-deny-*`).
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import capture
import lab

EVENTS = ["SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest", "Notification",
          "PostToolUse", "Stop", "SessionEnd"]
# The `permission_prompt` Notification fires after 6 s without input (research section 4.5).
NOTIFICATION_WAIT = 7.0
PAYLOAD_SCENARIOS = ["bash-suggest", "bash-plain", "edit", "write", "read-outside", "fetch", "plan",
                     "ask", "ask-multi", "mcp-tool"]
DENY_MESSAGE = "Denied remotely by phone user"


def scenario(name):
    return next(sc for sc in capture.SCENARIOS if sc.name == name)


def command_hook_settings(path):
    hook = {"type": "command", "command": f"{{ cat; echo; }} >> '{path}'"}
    return {"hooks": {event: [{"matcher": "*", "hooks": [hook]}] if event in ("PreToolUse", "PostToolUse", "PermissionRequest")
                      else [{"hooks": [hook]}] for event in EVENTS}}


def with_settings(sc, settings):
    session = dict(sc.session)
    session["extra_args"] = ("--settings", json.dumps(settings))
    return capture.Scenario(sc.name, sc.kind, sc.prompt, sc.marker, session, sc.versions)


def capture_payloads(version, name):
    sc = scenario(name)
    sink = lab.LAB.parent / f"{lab.LAB.name}-hooks.jsonl"
    sink.write_text("")
    run = with_settings(sc, command_hook_settings(sink))
    rows, cols = capture.VERIFY_SIZE
    with capture.open_session(version, run, rows, cols, "main") as s:
        p = s.pty
        p.settle()
        time.sleep(NOTIFICATION_WAIT)
        steps = dict(sc.custom_answers).get("answer-all", ["1"])
        for step in steps:
            p.send(step)
            p.settle(quiet=0.7)
        p.wait(lambda ls: not capture.dialog_open(sc, ls), what="dialog to close")
        wait_for_event(sink, "Stop")
        p.wait(capture.is_idle, what="idle box")
        p.settle()
        p.send("\x04")
        time.sleep(0.3)
        p.send("\x04")
        deadline = time.monotonic() + 15
        while not p.exited and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # SessionEnd hooks run as claude exits
    # Kept byte for byte as Claude Code wrote them, one payload a line.
    lines = [l for l in sink.read_text().splitlines() if l.strip()]
    payloads = [json.loads(l) for l in lines]
    out = capture.FIXTURES / version / "hooks"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.jsonl").write_text("".join(l + "\n" for l in lines))
    events = [x.get("hook_event_name") + (f":{x['notification_type']}" if x.get("notification_type") else "")
              for x in payloads]
    print(f"  {version} hooks/{name}.jsonl: {' '.join(events)}", flush=True)


def wait_for_event(sink, event, timeout=lab.WAIT_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in sink.read_text().splitlines():
            if line.strip() and json.loads(line).get("hook_event_name") == event:
                return
        time.sleep(0.1)
    raise TimeoutError(f"no {event} hook payload")


# ---------------------------------------------------------------------------------------------
# http hooks

class HookServer:
    """Answers every PermissionRequest POST with `answer(payload)` and keeps what it got.

    With `keep_alive` it speaks HTTP/1.1 and leaves connections open, as `cr`'s server does.
    `arrivals` has the client port and arrival time of each request (`keepalive.py`)."""

    def __init__(self, answer, keep_alive=False):
        self.requests = []
        self.arrivals = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                payload = json.loads(body or b"{}")
                reply = answer(payload)
                outer.requests.append({"path": self.path, "payload": payload, "reply": reply})
                outer.arrivals.append((self.client_address[1], time.monotonic()))
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def settings(self):
        hook = {"type": "http", "url": f"http://127.0.0.1:{self.port}/permission", "timeout": 60}
        return {"hooks": {"PermissionRequest": [{"matcher": "*", "hooks": [hook]}]}}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def decision(d):
    return {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": d}}


def allow_always(payload):
    return decision({"behavior": "allow", "updatedPermissions": payload.get("permission_suggestions", [])})


def answer_questions(payload):
    questions = payload["tool_input"]["questions"]
    # Single-select: the last option; multiSelect: the first and last, joined as the
    # terminal joins them.
    answers = {q["question"]: ", ".join([q["options"][0]["label"], q["options"][-1]["label"]])
               if q.get("multiSelect") else q["options"][-1]["label"] for q in questions}
    return decision({"behavior": "allow", "updatedInput": {"questions": questions, "answers": answers}})


CHECKS = [
    # (name, scenario, answer, repeat the prompt in the same session to see if a rule stuck)
    ("allow", "bash-suggest", lambda p: decision({"behavior": "allow"}), False),
    ("allow-always", "bash-suggest", allow_always, True),
    ("deny", "bash-suggest", lambda p: decision({"behavior": "deny", "message": DENY_MESSAGE}), False),
    ("deny-interrupt", "bash-suggest",
     lambda p: decision({"behavior": "deny", "message": DENY_MESSAGE, "interrupt": True}), False),
    ("ask-answers", "ask", answer_questions, False),
    ("ask-multi-answers", "ask-multi", answer_questions, False),
    # 2.1.329 ignores an `allow` without `updatedInput` for tools that answer on their own card
    # (ExitPlanMode, AskUserQuestion): the dialog stays open. Echoing tool_input is enough.
    ("plan-allow-no-input", "plan", lambda p: decision({"behavior": "allow"}), False),
    ("plan-set-mode", "plan", lambda p: decision({
        "behavior": "allow",
        "updatedInput": p["tool_input"],
        "updatedPermissions": [{"type": "setMode", "mode": "acceptEdits", "destination": "session"}]}), False),
]


def http_check(version, name, sc_name, answer, repeat):
    sc = scenario(sc_name)
    server = HookServer(answer)
    rows, cols = capture.VERIFY_SIZE
    try:
        run = with_settings(sc, server.settings())
        s = lab.Session(version, rows=rows, cols=cols, **run.session)
        try:
            p = s.pty
            p.wait(capture.is_idle, what="idle box")
            p.settle()
            outcome = {"hook_calls": [], "turns": []}
            for turn in range(2 if repeat else 1):
                calls_before = len(server.requests)
                replies_before = len(s.mock.replies())
                p.submit(sc.prompt)
                deadline = time.monotonic() + lab.WAIT_TIMEOUT
                while len(s.mock.replies()) == replies_before and time.monotonic() < deadline:
                    time.sleep(0.1)
                time.sleep(0.5)
                p.settle(quiet=1.5)
                lines = p.lines()
                outcome["turns"].append({
                    "hook_called": len(server.requests) > calls_before,
                    "dialog_still_open": capture.dialog_open(sc, lines),
                    "tool_results": [{"is_error": e, "content": t[:400]} for i, e, t in s.mock.tool_results()
                                     if not i.endswith("_prep")][-1:],
                    "mock_replies": [r[:400] for r in s.mock.replies()[replies_before:]],
                    "transcript": [l.strip() for l in lines if "⎿" in l or l.lstrip().startswith("●")][-6:],
                    "last_line": next((l.strip() for l in reversed(lines) if l.strip()), ""),
                })
            settings = lab.PROJECT / ".claude" / "settings.local.json"
            if settings.exists():
                outcome["settings.local.json"] = json.loads(settings.read_text())
            outcome["hook_calls"] = server.requests
            if name in ("allow", "deny"):
                raw = bytes(p.raw)
                meta = capture.base_meta(version, sc, rows, cols, "main", raw, s.argv)
                meta.update(scenario=f"after-hook-{name}", dialog=None, hook_answer=server.requests[-1]["reply"]
                            if server.requests else None)
                capture.write_fixture(version, f"after-hook-{name}-{cols}x{rows}-main", raw, meta)
        finally:
            s.close()
    finally:
        server.close()
    t = outcome["turns"]
    print(f"  {version} http {name}: " + " || ".join(
        f"hook={x['hook_called']} open={x['dialog_still_open']} {x['transcript'][-2:]}" for x in t), flush=True)
    return outcome


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="append")
    ap.add_argument("--only", action="append", help="only these payload scenarios / http checks")
    ap.add_argument("--skip-payloads", action="store_true")
    ap.add_argument("--skip-http", action="store_true")
    args = ap.parse_args()
    failures = []
    for version in args.version or capture.VERSIONS:
        if not args.skip_payloads:
            for name in PAYLOAD_SCENARIOS:
                if args.only and name not in args.only:
                    continue
                try:
                    capture_payloads(version, name)
                except Exception as err:
                    failures.append(f"{version} payloads {name}: {err}")
                    print(f"  FAILED {failures[-1]}", flush=True)
        # http hooks do not exist in 2.0.x.
        if args.skip_http or lab.version_tuple(version) < (2, 1, 0):
            continue
        results = {}
        for name, sc_name, answer, repeat in CHECKS:
            if args.only and name not in args.only:
                continue
            try:
                results[name] = http_check(version, name, sc_name, answer, repeat)
            except Exception as err:
                failures.append(f"{version} http {name}: {err}")
                print(f"  FAILED {failures[-1]}", flush=True)
        out = capture.FIXTURES / version / "hooks" / "http-answers.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        previous = json.loads(out.read_text()) if out.exists() else {}
        previous.update(results)
        out.write_text(json.dumps(previous, indent=2, ensure_ascii=False) + "\n")
    if failures:
        print("\n".join(["failures:"] + failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
