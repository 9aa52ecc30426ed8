"""Checks live whether Claude Code reuses its `http` hook's connection between calls.

    python3 tests/claude/keepalive.py [--version V ...] [--gaps 0,2.5,4,6]

Runs the `bash-suggest` scenario once per gap, in one session, with a `PermissionRequest` hook
of `"type": "http"` pointing at the lab's hook server (`hooks.HookServer`, leaving connections
open) that allows every call and notes the client port each came from; after each answer it
waits the gap before asking again. A call from the port of the call before it came over the
same, kept-alive connection.

Seen with 2.1.112 and 2.1.329: calls 1.7 and 4.1 s apart shared one connection, calls 5.7 and
7.6 s apart each opened a new one (2.1.112 posts with axios through Node's global agent, which
keeps idle sockets for 5 s). `cr-bench` measures the hook question both ways for that reason.
"""

import argparse
import time

import capture
import hooks
import lab


def check(version, gaps):
    sc = hooks.scenario("bash-suggest")
    server = hooks.HookServer(lambda payload: hooks.decision({"behavior": "allow"}), keep_alive=True)
    rows, cols = capture.VERIFY_SIZE
    s = lab.Session(version, rows=rows, cols=cols, **hooks.with_settings(sc, server.settings()).session)
    try:
        p = s.pty
        p.wait(capture.is_idle, what="idle box")
        p.settle()
        for gap in [0.0, *gaps]:
            time.sleep(gap)
            before = len(s.mock.replies())
            p.submit(sc.prompt)
            deadline = time.monotonic() + lab.WAIT_TIMEOUT
            while len(s.mock.replies()) == before and time.monotonic() < deadline:
                time.sleep(0.1)
            p.settle(quiet=1.0)
    finally:
        s.close()
        server.close()
    calls = server.arrivals
    if len(calls) != len(gaps) + 1:
        raise SystemExit(f"{version}: expected {len(gaps) + 1} hook calls, got {len(calls)}")
    for (port_a, t_a), (port_b, t_b) in zip(calls, calls[1:]):
        same = "same connection" if port_a == port_b else "new connection"
        print(f"  {version}: next call {t_b - t_a:.1f} s later: {same}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="append", help="default: 2.1.112 and 2.1.329 (2.0.76 has no http hooks)")
    ap.add_argument("--gaps", default="0,2.5,4,6", help="seconds to wait before each further call")
    args = ap.parse_args()
    gaps = [float(g) for g in args.gaps.split(",")]
    for version in args.version or ["2.1.112", "2.1.329"]:
        check(version, gaps)


if __name__ == "__main__":
    main()
