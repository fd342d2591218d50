#!/usr/bin/env python3
"""Make a fake-camera video (YUV4MPEG2, 4:2:0) from a QR/label PNG, for Chromium's
--use-file-for-fake-video-capture in the browser e2e tests.

Usage: png2y4m.py IN.png OUT.y4m [--width 640 --height 480 --frames 1]

The image is scaled (nearest neighbour, so QR modules stay sharp) to fit 80% of the frame,
centred on white, converted to luma; chroma planes are neutral grey (0x80). Chromium loops the
file, so one frame is a still "printed label" held in front of the camera.
"""
import argparse
import sys

from PIL import Image


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--frames", type=int, default=1)
    a = ap.parse_args()
    w, h = a.width, a.height
    if w % 2 or h % 2 or not (16 <= w <= 4096 and 16 <= h <= 4096) or not 1 <= a.frames <= 300:
        print("bad frame size or count", file=sys.stderr)
        return 2
    src = Image.open(a.src).convert("L")
    scale = min(w * 0.8 / src.width, h * 0.8 / src.height)
    size = (max(1, int(src.width * scale)), max(1, int(src.height * scale)))
    src = src.resize(size, Image.NEAREST)
    frame = Image.new("L", (w, h), 255)
    frame.paste(src, ((w - size[0]) // 2, (h - size[1]) // 2))
    y = frame.tobytes()
    chroma = b"\x80" * (w * h // 4)
    with open(a.dst, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(a.frames):
            f.write(b"FRAME\n")
            f.write(y)
            f.write(chroma)
            f.write(chroma)
    return 0


if __name__ == "__main__":
    sys.exit(main())
