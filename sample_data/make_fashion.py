"""Regenerate sample_data/fashion/: a small Ground Truth image-classification job.

Like GT's classic fashion example (bag, sunglasses, shoes, watch), drawn with Pillow so the
images are ours, small and reproducible:  python sample_data/make_fashion.py

Writes 001.jpg..024.jpg (021 is a PNG with transparency, 007 is stored rotated with an EXIF
orientation tag), manifest.jsonl, labels.json, truth.json, instructions.md,
good-example.jpg, bad-example.jpg and broken.jpg (truncated, kept out of the manifest).
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

OUT = Path(__file__).resolve().parent / "fashion"
SIZE = (320, 240)
LABELS = ["BAG", "SUNGLASS", "SHOES", "WATCH"]
ROTATED = "007.jpg"  # stored 240x320 with EXIF orientation 6 (display rotates it upright)
TRANSPARENT = "021.png"

PALETTE = [
    (200, 40, 40), (40, 90, 200), (30, 150, 70), (230, 160, 20), (120, 60, 160),
    (20, 20, 20), (150, 90, 40), (220, 90, 150), (0, 150, 160), (240, 240, 240),
]
BACKGROUNDS = [
    (245, 240, 230), (220, 235, 245), (235, 245, 220), (250, 225, 225), (230, 230, 230),
    (60, 60, 70), (255, 250, 200),
]


def darker(c, f=0.6):
    return tuple(int(v * f) for v in c)


def draw_bag(d: ImageDraw.ImageDraw, c, rng):
    d.arc((70, 10, 150, 110), 180, 360, fill=darker(c), width=9)
    d.rounded_rectangle((40, 55, 180, 160), radius=18, fill=c, outline=darker(c), width=4)
    d.line((40, 85, 180, 85), fill=darker(c, 0.8), width=3)
    d.rectangle((100, 78, 120, 96), fill=(210, 180, 60), outline=(120, 90, 20), width=2)


def draw_sunglass(d, c, rng):
    lens = darker(c, 0.35)
    d.line((20, 70, 5, 50), fill=c, width=6)
    d.line((200, 70, 215, 50), fill=c, width=6)
    d.ellipse((20, 60, 100, 125), fill=lens, outline=c, width=6)
    d.ellipse((120, 60, 200, 125), fill=lens, outline=c, width=6)
    d.arc((95, 55, 125, 85), 200, 340, fill=c, width=6)
    d.ellipse((35, 72, 55, 85), fill=(200, 200, 220))  # glint
    d.ellipse((135, 72, 155, 85), fill=(200, 200, 220))


def draw_shoes(d, c, rng):
    sole = (235, 235, 235) if sum(c) < 600 else (60, 60, 60)
    d.polygon([(20, 140), (20, 85), (70, 60), (110, 80), (150, 95), (200, 110), (205, 140)], fill=c,
              outline=darker(c), width=3)
    d.rounded_rectangle((14, 135, 210, 158), radius=8, fill=sole, outline=darker(sole), width=2)
    for i in range(4):
        x = 78 + i * 14
        d.line((x, 72 + i * 4, x + 12, 92 + i * 4), fill=(250, 250, 250), width=3)
    d.ellipse((25, 78, 40, 93), fill=darker(c))


def draw_watch(d, c, rng):
    strap = darker(c, 0.7)
    d.rounded_rectangle((85, 0, 135, 70), radius=6, fill=strap)
    d.rounded_rectangle((85, 150, 135, 220), radius=6, fill=strap)
    d.ellipse((55, 55, 165, 165), fill=(200, 200, 205), outline=(90, 90, 95), width=6)
    d.ellipse((67, 67, 153, 153), fill=(250, 250, 245) if sum(c) < 600 else (30, 30, 40))
    hand = (20, 20, 20) if sum(c) < 600 else (240, 240, 240)
    for i in range(12):
        a = i * math.pi / 6
        x, y = 110 + 36 * math.cos(a), 110 + 36 * math.sin(a)
        d.ellipse((x - 2, y - 2, x + 2, y + 2), fill=hand)
    d.line((110, 110, 110, 78), fill=hand, width=4)
    d.line((110, 110, 135, 118), fill=hand, width=3)
    d.line((110, 110, 90, 135), fill=(200, 30, 30), width=1)
    d.rectangle((163, 100, 172, 118), fill=(150, 150, 155))  # crown


DRAW = {"BAG": draw_bag, "SUNGLASS": draw_sunglass, "SHOES": draw_shoes, "WATCH": draw_watch}


def item(label: str, colour, rng: random.Random, scale: float, angle: float) -> Image.Image:
    layer = Image.new("RGBA", (220, 220), (0, 0, 0, 0))
    DRAW[label](ImageDraw.Draw(layer), colour, rng)
    layer = layer.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    w = max(1, int(layer.width * scale))
    return layer.resize((w, max(1, int(layer.height * scale))), Image.Resampling.LANCZOS)


def background(rng: random.Random) -> Image.Image:
    a, b = rng.sample(BACKGROUNDS, 2)
    grad = Image.linear_gradient("L")
    if rng.random() < 0.5:
        grad = grad.transpose(Image.Transpose.ROTATE_90)  # left-right instead of top-bottom
    grad = grad.resize(SIZE)
    return Image.composite(Image.new("RGB", SIZE, a), Image.new("RGB", SIZE, b), grad)


def scene(label: str, rng: random.Random, transparent: bool = False) -> Image.Image:
    colour = rng.choice(PALETTE)
    art = item(label, colour, rng, rng.uniform(0.7, 1.0), rng.uniform(-20, 20))
    base = Image.new("RGBA", SIZE, (0, 0, 0, 0)) if transparent else background(rng).convert("RGBA")
    x = rng.randint(0, max(0, SIZE[0] - art.width))
    y = rng.randint(0, max(0, SIZE[1] - art.height))
    base.alpha_composite(art, (x, y))
    return base if transparent else base.convert("RGB")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20181128)
    names = [f"{i:03d}.jpg" for i in range(1, 25)]
    names[20] = TRANSPARENT
    labels = [LABELS[i % 4] for i in range(24)]
    rng.shuffle(labels)
    truth = {}
    for name, label in zip(names, labels):
        truth[name] = label
        img = scene(label, rng, transparent=(name == TRANSPARENT))
        path = OUT / name
        if name == TRANSPARENT:
            img.save(path, "PNG", optimize=True)
        elif name == ROTATED:
            # Store the pixels rotated a quarter turn left; orientation 6 tells viewers to
            # turn them back, so only EXIF-aware software shows the item upright.
            exif = Image.Exif()
            exif[0x0112] = 6
            img.transpose(Image.Transpose.ROTATE_90).save(path, "JPEG", quality=80, exif=exif)
        else:
            img.save(path, "JPEG", quality=80)

    (OUT / "manifest.jsonl").write_text(
        "".join(json.dumps({"source-ref": n}) + "\n" for n in names), encoding="utf-8"
    )
    (OUT / "labels.json").write_text(
        json.dumps({"document-version": "2018-11-28", "labels": [{"label": l} for l in LABELS]})
        + "\n",
        encoding="utf-8",
    )
    (OUT / "truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")

    good = scene("BAG", random.Random(1))
    good.save(OUT / "good-example.jpg", "JPEG", quality=80)
    bad = scene("BAG", random.Random(2)).crop((100, 60, 320, 240)).resize(SIZE)
    bad.filter(ImageFilter.GaussianBlur(9)).save(OUT / "bad-example.jpg", "JPEG", quality=80)

    whole = (OUT / "001.jpg").read_bytes()
    (OUT / "broken.jpg").write_bytes(whole[: len(whole) * 6 // 10])  # cut mid-scan: truncated

    (OUT / "instructions.md").write_text(INSTRUCTIONS, encoding="utf-8")


INSTRUCTIONS = """\
# Fashion items

Choose the **one** category that best describes the main item in the picture.

| Key | Label | What it looks like |
|-----|-------|--------------------|
| 1 | BAG | a handbag or tote: a body with a handle on top |
| 2 | SUNGLASS | two dark lenses joined by a bridge |
| 3 | SHOES | a shoe or sneaker seen from the side |
| 4 | WATCH | a round face with hands and a strap |

- Ignore the background colour and the angle of the item.
- If the item is too blurry or cut off to tell, **skip** it rather than guess.

Good example (clear bag): `good-example.jpg`. Bad example (blurry, cut off): `bad-example.jpg`.
"""


if __name__ == "__main__":
    main()
