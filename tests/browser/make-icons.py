#!/usr/bin/env python3
"""Draws the app icons in public/icons/ (SVG and PNGs) from one geometry, with no dependencies.

Run it after changing the design: `python3 tests/browser/make-icons.py`. With `--check` it only
verifies that the committed files are what this script draws (the browser tests run that).
"""

import math
import struct
import sys
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "public" / "icons"

# Geometry on a 512 x 512 canvas. A terminal prompt "❯_" on a dark rounded square.
BG = (0x1D, 0x20, 0x26)
ACCENT = (0xE0, 0x80, 0x5F)
LIGHT = (0xE8, 0xEA, 0xED)
CORNER = 112  # corner radius of the plain icon; iOS and maskable icons are full-bleed
STROKE = 23  # half the stroke width
CHEVRON = [((150, 166), (258, 256)), ((258, 256), (150, 346))]
CURSOR = [((296, 346), (376, 346))]


def seg_dist(px, py, a, b):
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def rrect_dist(px, py, size, r):
    # Signed distance to a rounded square [0, size]^2 with corner radius r.
    c = size / 2
    qx = abs(px - c) - (c - r)
    qy = abs(py - c) - (c - r)
    outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
    return outside + min(max(qx, qy), 0.0) - r


def draw(size, corner, glyph_scale):
    """RGBA bytes of one icon. `glyph_scale` shrinks the glyph toward the centre (maskable)."""
    k = 512 / size
    rows = []
    for y in range(size):
        row = bytearray([0])  # PNG filter type 0 for this scanline
        for x in range(size):
            # Canvas coordinates of this pixel's centre; one pixel is k canvas units.
            cx, cy = (x + 0.5) * k, (y + 0.5) * k
            bg_cov = 1.0 if corner == 0 else min(1.0, max(0.0, 0.5 - rrect_dist(cx, cy, 512, corner) / k))
            gx = 256 + (cx - 256) / glyph_scale
            gy = 256 + (cy - 256) / glyph_scale
            unit = k / glyph_scale
            col = BG
            for segs, colour in ((CHEVRON, ACCENT), (CURSOR, LIGHT)):
                d = min(seg_dist(gx, gy, a, b) for a, b in segs) - STROKE
                cov = min(1.0, max(0.0, 0.5 - d / unit))
                if cov > 0:
                    col = tuple(round(c0 + (c1 - c0) * cov) for c0, c1 in zip(col, colour))
            row += bytes(col) + bytes([round(255 * bg_cov)])
        rows.append(bytes(row))
    return b"".join(rows)


def png(size, rgba):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rgba, 9)) + chunk(b"IEND", b""))


def svg():
    hexc = lambda c: "#%02x%02x%02x" % c  # noqa: E731
    def path(segs):
        pts = [segs[0][0]] + [b for _, b in segs]
        return "M" + " L".join(f"{x} {y}" for x, y in pts)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512">\n'
        f'  <rect width="512" height="512" rx="{CORNER}" fill="{hexc(BG)}"/>\n'
        f'  <path d="{path(CHEVRON)}" fill="none" stroke="{hexc(ACCENT)}" stroke-width="{2 * STROKE}"'
        ' stroke-linecap="round" stroke-linejoin="round"/>\n'
        f'  <path d="{path(CURSOR)}" fill="none" stroke="{hexc(LIGHT)}" stroke-width="{2 * STROKE}"'
        ' stroke-linecap="round"/>\n'
        "</svg>\n"
    ).encode()


FILES = {
    "icon.svg": lambda: svg(),
    "icon-192.png": lambda: png(192, draw(192, CORNER, 1.0)),
    "icon-512.png": lambda: png(512, draw(512, CORNER, 1.0)),
    # Maskable: full-bleed background, glyph inside the 80 % safe circle.
    "icon-maskable-512.png": lambda: png(512, draw(512, 0, 0.78)),
    # iOS rounds the corners itself and shows transparency as black.
    "apple-touch-icon.png": lambda: png(180, draw(180, 0, 0.9)),
}


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in FILES.items():
        data = make()
        path = OUT / name
        if check:
            if not path.exists() or path.read_bytes() != data:
                stale.append(name)
        else:
            path.write_bytes(data)
    if stale:
        print("stale icons (run python3 tests/browser/make-icons.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
