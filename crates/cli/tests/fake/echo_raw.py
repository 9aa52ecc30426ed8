#!/usr/bin/env python3
"""Fake program for passthrough tests: raw mode, then echo N bytes back unchanged, or blast a pattern.

echo_raw.py echo N   -- print READY, copy exactly N bytes from stdin to stdout, exit 0
echo_raw.py blast N  -- print READY, write N bytes of a fixed pattern, exit 0
"""
import os
import sys
import tty

tty.setraw(0)
mode, n = sys.argv[1], int(sys.argv[2])
os.write(1, b"READY")
if mode == "echo":
    left = n
    while left > 0:
        data = os.read(0, min(left, 4096))
        if not data:
            break
        os.write(1, data)
        left -= len(data)
else:
    pattern = bytes(range(256)) * 64
    left = n
    while left > 0:
        chunk = pattern[: min(left, len(pattern))]
        view = memoryview(chunk)
        while view:
            view = view[os.write(1, view):]
        left -= len(chunk)
