#!/usr/bin/env python3
"""Builds ui/fonts/mc-sans-sc.otf: Noto Sans CJK SC Regular cut down to ASCII,
Latin-1, CJK punctuation, full-width forms and every character of GB2312, so the
kiosk draws Chinese without any host font. Names outside GB2312 fall back to the
system's fonts-noto-cjk (a dependency of the package).

Needs fonttools (`pip install fonttools`) and fonts-noto-cjk. Run from anywhere:
    python3 ui/fonts/make-subset.py
"""
import os
from fontTools import subset
from fontTools.ttLib import TTCollection

SRC = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
SC_INDEX = 2  # Noto Sans CJK SC inside the collection
FAMILY = "MC Sans SC"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mc-sans-sc.otf")

def gb2312_chars():
    chars = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return chars

def main():
    text = set(gb2312_chars())
    ranges = [(0x20, 0x7E), (0xA0, 0xFF), (0x2010, 0x206F), (0x2190, 0x21FF),
              (0x2460, 0x24FF), (0x25A0, 0x25FF), (0x2600, 0x26FF), (0x3000, 0x303F),
              (0xFF00, 0xFFEF)]
    for a, b in ranges:
        text.update(chr(c) for c in range(a, b + 1))
    font = TTCollection(SRC).fonts[SC_INDEX]
    opts = subset.Options()
    opts.layout_features = ["*"]
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    opts.hinting = False
    opts.desubroutinize = False
    sub = subset.Subsetter(opts)
    sub.populate(text="".join(sorted(text)))
    sub.subset(font)
    names = font["name"]
    for rec in names.names:
        if rec.nameID in (1, 16):
            rec.string = FAMILY
        elif rec.nameID in (4,):
            rec.string = FAMILY + " Regular"
        elif rec.nameID == 6:
            rec.string = FAMILY.replace(" ", "") + "-Regular"
    font.save(OUT)
    print(OUT, os.path.getsize(OUT), "bytes,", len(text), "characters requested")

if __name__ == "__main__":
    main()
