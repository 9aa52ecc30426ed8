"""Measures whether a key sent right after a dialog first appears is taken or dropped.

    python3 tests/claude/key_window.py [--version V] [--dialog tool|trust] [--delays 0,0.1,0.15,0.3]

For each delay it opens the dialog in a fresh session, watches the screen every 10 ms, sends the
answering key `delay` seconds after the dialog's marker is first drawn, and reports `taken`
(the dialog closed within 4 s) or `DROPPED`. 2.1.329 dropped keys at 0 and 0.1 s and took them
from 0.15 s on, for tool and trust dialogs alike; 2.1.112 took them at once.
"""

import argparse
import time

import capture
import lab

# Time a dropped key gets to show an effect before the lab calls it dropped.
EFFECT_TIMEOUT = 4.0


def probe(version, dialog, delay):
    trust = dialog == "trust"
    s = lab.Session(version, trusted=not trust)
    try:
        p = s.pty
        if trust:
            marker = "Enter to confirm"
            # 2.1.329 lists "No, exit" first and unnumbered: Down, Enter trusts; older: digit 1.
            key = "\x1b[B\r" if lab.version_tuple(version) >= (2, 1, 200) else "1"
        else:
            marker, key = "Esc to cancel", "1"
            p.wait(capture.is_idle, what="idle box")
            p.settle()
            p.submit('RUN:BASH python3 -c "print(42)"')
        deadline = time.monotonic() + lab.WAIT_TIMEOUT
        while marker not in p.text():
            if time.monotonic() > deadline:
                raise TimeoutError("the dialog never appeared")
            time.sleep(0.01)
        time.sleep(delay)
        p.send(key)
        try:
            p.wait(lambda ls: marker not in "\n".join(ls), timeout=EFFECT_TIMEOUT)
            return "taken"
        except TimeoutError:
            return "DROPPED"
    finally:
        s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="append")
    ap.add_argument("--dialog", action="append", choices=["tool", "trust"])
    ap.add_argument("--delays", default="0,0.1,0.15,0.3")
    args = ap.parse_args()
    for version in args.version or ["2.1.112", "2.1.329"]:
        for dialog in args.dialog or ["tool", "trust"]:
            for delay in [float(d) for d in args.delays.split(",")]:
                print(f"{version} {dialog} +{delay:.2f}s: {probe(version, dialog, delay)}", flush=True)


if __name__ == "__main__":
    main()
