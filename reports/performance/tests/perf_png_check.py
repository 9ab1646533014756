#!/usr/bin/env python3
"""Checks a screenshot of report.html is a rendered page, not a blank or broken one.

Decodes the PNG with the standard library only (8-bit RGB/RGBA, not interlaced: what Chromium
writes) and requires: some ink (non-white pixels), many distinct colours (text antialiasing,
tables, charts), and pixels in the chart colours of flash (#1f77b4) and sdpa (#d62728), i.e.
the inline SVG charts were drawn. Usage: perf_png_check.py SHOT.png. Exit 0 ok, 1 not.
"""
import struct
import sys
import zlib


def decode(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError("unsupported PNG layout (depth %d, colour type %d, interlace %d)" % (depth, colour, interlace))
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(height):
        ftype, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 255
            elif ftype == 2:
                line[x] = (line[x] + b) & 255
            elif ftype == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def main():
    path = sys.argv[1]
    width, height, bpp, rows = decode(path)
    ink, colours, flash, sdpa, total = 0, set(), 0, 0, 0
    for row in rows[::2]:  # every other row is plenty
        for x in range(0, width * bpp, bpp * 2):
            r, g, b = row[x], row[x + 1], row[x + 2]
            total += 1
            if r < 235 or g < 235 or b < 235:
                ink += 1
            colours.add((r >> 3, g >> 3, b >> 3))
            if abs(r - 0x1f) < 25 and abs(g - 0x77) < 25 and abs(b - 0xb4) < 25:
                flash += 1
            if abs(r - 0xd6) < 25 and abs(g - 0x27) < 25 and abs(b - 0x28) < 25:
                sdpa += 1
    print("%s: %dx%d, ink %.1f %%, %d colours, flash-blue %d, sdpa-red %d sampled pixels"
          % (path, width, height, 100.0 * ink / total, len(colours), flash, sdpa))
    problems = []
    if width < 1000 or height < 1000:
        problems.append("screenshot smaller than the window")
    if ink < 0.02 * total:
        problems.append("almost blank (%.2f %% ink)" % (100.0 * ink / total))
    if len(colours) < 40:
        problems.append("only %d colours: no text or charts" % len(colours))
    if flash < 50 or sdpa < 20:
        problems.append("chart colours missing: the SVG charts did not render")
    for p in problems:
        print("FAIL: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
