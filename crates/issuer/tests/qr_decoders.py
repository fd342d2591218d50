#!/usr/bin/env python3
"""Decode QR PNGs with two independent decoders (zbarimg from Debian zbar-tools, zxing-cpp from
PyPI) — the originals and a degraded copy of each, made here with Pillow the way a phone photo
degrades a print: scaled down, rotated a few degrees, blurred.

Usage: qr_decoders.py EXPECTED_TEXT OUT_DIR FILE.png [FILE.png ...]
Prints one line per (file, variant, decoder); exits 0 only if every decode returned EXPECTED_TEXT.
Exit 3 if a decoder is missing (the test fails with the install command).
Called by crates/issuer/tests/independent_decoders.rs.
"""
import os
import shutil
import subprocess
import sys

INSTALL = ("install the test decoders: `apt-get install -y zbar-tools` and "
           "`pip install zxing-cpp pillow` (or `cargo xtask setup`, which installs all test tools)")


def need_tools():
    missing = []
    if shutil.which("zbarimg") is None:
        missing.append("zbarimg (zbar-tools)")
    try:
        import zxingcpp  # noqa: F401
        from PIL import Image  # noqa: F401
    except ImportError as e:
        missing.append(f"python module: {e.name}")
    if missing:
        print("missing QR decoders: " + ", ".join(missing) + "; " + INSTALL, file=sys.stderr)
        sys.exit(3)


def degrade(src, dst):
    from PIL import Image, ImageFilter
    img = Image.open(src).convert("L")
    w, h = img.size
    # A phone photo of a print: fewer pixels, a small tilt, some blur.
    img = img.resize((max(1, int(w * 0.6)), max(1, int(h * 0.6))), Image.BILINEAR)
    img = img.rotate(4, resample=Image.BICUBIC, expand=True, fillcolor=255)
    img = img.filter(ImageFilter.GaussianBlur(radius=1.0))
    img.save(dst)


def zbar(path):
    r = subprocess.run(["zbarimg", "-q", "--raw", path], capture_output=True)
    return [line for line in r.stdout.decode("utf-8", "replace").splitlines() if line]


def zxing(path):
    import zxingcpp
    from PIL import Image
    return [b.text for b in zxingcpp.read_barcodes(Image.open(path))]


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    expected, out_dir, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    need_tools()
    ok = True
    for f in files:
        degraded = os.path.join(out_dir, "degraded-" + os.path.basename(f))
        degrade(f, degraded)
        for variant, path in (("original", f), ("degraded", degraded)):
            for name, fn in (("zbarimg", zbar), ("zxing-cpp", zxing)):
                got = fn(path)
                good = got == [expected]
                ok &= good
                print(f"{'OK ' if good else 'BAD'} {os.path.basename(f)} {variant} {name}: "
                      f"{len(got)} code(s){'' if good else ' ' + repr(got)[:200]}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
