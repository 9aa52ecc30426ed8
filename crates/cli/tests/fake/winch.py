#!/usr/bin/env python3
"""Fake program for resize tests: prints its terminal size at start and after every SIGWINCH."""
import os
import signal
import struct
import fcntl
import termios
import time


def show(*_):
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(1, termios.TIOCGWINSZ, b"\0" * 8))
    os.write(1, f"SIZE {rows} {cols}\r\n".encode())


signal.signal(signal.SIGWINCH, show)
show()
deadline = time.time() + 30
while time.time() < deadline:
    time.sleep(0.05)
