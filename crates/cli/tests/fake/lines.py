#!/usr/bin/env python3
"""Fake program for relay tests: numbered lines on demand, and a [y/N] question.

Starts by printing 100 numbered lines, then reads commands from stdin (cooked mode):
  more N  -- print N more numbered lines
  ask     -- print "Proceed? [y/N] ", read one line, print "GOT <answer>"
  quit    -- exit 0
"""
import sys

n = 0


def burst(k):
    global n
    for _ in range(k):
        n += 1
        print(f"line {n:04d}", flush=True)


burst(100)
for cmd in sys.stdin:
    cmd = cmd.strip()
    if cmd.startswith("more "):
        burst(int(cmd.split()[1]))
    elif cmd == "ask":
        sys.stdout.write("Proceed? [y/N] ")
        sys.stdout.flush()
        answer = sys.stdin.readline().strip()
        print(f"GOT {answer}", flush=True)
    elif cmd == "quit":
        sys.exit(0)
