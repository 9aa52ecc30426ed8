#!/usr/bin/env python3
"""A full-screen program (like Claude Code 2.1.329's default renderer) whose content scrolls
up under a fixed header and input box on the alternate screen, redrawn at absolute positions.

alt_scroll.py N  -- add items 1..N one frame at a time (sometimes three at once, sometimes a
                    frame redrawn unchanged), print DRAWN, then wait for a key and leave.
"""
import fcntl
import os
import struct
import sys
import termios
import time
import tty

tty.setraw(0)
n = int(sys.argv[1])
rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(1, termios.TIOCGWINSZ, b"\0" * 8))
view = rows - 4  # header, rule, input, and the row DRAWN goes on


def frame(items):
    shown = items[-view:]
    out = ["\x1b[H\x1b[2J", "\x1b[1;1H== header that never moves =="]
    for i, item in enumerate(shown):
        out.append(f"\x1b[{i + 2};1H{item}")
    out.append(f"\x1b[{rows - 2};1H" + "─" * cols)
    out.append(f"\x1b[{rows - 1};1H> ")
    os.write(1, "".join(out).encode())
    # A settled frame: longer than cr's quiet time before it compares frames.
    time.sleep(0.15)


os.write(1, b"\x1b[?1049h")
items = []
i = 0
while i < n:
    step = 3 if i % 7 == 6 else 1
    for _ in range(step):
        if i < n:
            i += 1
            items.append(f"item {i:03d} of the scrolling list")
    frame(items)
    if i % 5 == 0:
        frame(items)  # redrawn, unchanged
os.write(1, f"\x1b[{rows};1HDRAWN".encode())
os.read(0, 1)
os.write(1, b"\x1b[?1049l")
