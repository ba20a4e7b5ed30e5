"""Draw assets/intersynth_contact_sheet.png: one stick-figure still per category at its key moment.

    python bench/make_contact_sheet.py [--out assets/intersynth_contact_sheet.png] [--seed 0]

The view looks across the line joining the two persons (orthographic, slightly from above), person 1 in
red, person 2 in blue, the frame chosen where the interaction peaks (closest contact, highest hand, ...).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from intermask import skeleton as sk
from intermask.data.intersynth.compose import generate_clip

SHOW = ("handshake", "high_five", "hug", "wave", "bow", "push", "punch", "kick", "give", "pat_shoulder",
        "dance", "jump", "clap", "point", "pull", "fist_bump")
COLOURS = ((205, 60, 45), (40, 95, 200))


def key_frame(label: dict, joints: np.ndarray) -> int:
    cat = label["category"]
    seg = next(s for s in label["segments"] if s["category"] == cat)
    a, b = seg["start_frame"], seg["end_frame"]
    j = joints[:, a:b]
    actors = (0, 1) if label["actor"] == "both" else (label["actor"],)
    p = actors[0]
    if cat in ("handshake", "high_five", "fist_bump", "give", "pull", "dance"):
        d = np.linalg.norm(j[0][:, [20, 21], None] - j[1][:, None, [20, 21]], axis=-1)  # (T, 2, 2)
        return a + int(np.argmin(d.min(axis=(1, 2))))
    if cat == "kick":
        return a + int(np.argmax(j[p][:, [7, 8], 1].max(1)))
    if cat == "jump":
        return a + int(np.argmax(j[p, :, 0, 1]))
    if cat == "bow":
        return a + int(np.argmin(j[p, :, 15, 1]))
    if cat == "clap":
        return a + int(np.argmin(np.linalg.norm(j[p, :, 20] - j[p, :, 21], axis=-1)))
    if cat in ("hug", "push", "pat_shoulder", "punch"):
        other = j[1 - p][:, [9, 15, 16, 17]]
        d = np.linalg.norm(j[p][:, [20, 21], None] - other[:, None], axis=-1).min(axis=(1, 2))
        return a + int(np.argmin(d))
    return a + int(np.argmax(j[p][:, [20, 21], 1].max(1)))


def draw_cell(joints: np.ndarray, t: int, size: int, caption: str) -> Image.Image:
    img = Image.new("RGB", (size, size), (250, 250, 247))
    d = ImageDraw.Draw(img)
    j = joints[:, t]
    across = j[1, 0] - j[0, 0]
    across[1] = 0
    across /= max(np.linalg.norm(across), 1e-6)
    depth = np.cross(across, [0.0, 1.0, 0.0])
    centre = j[:, 0].mean(0)
    scale = size / max(2.6, float(np.linalg.norm(j[1, 0] - j[0, 0])) + 1.3)
    floor_y = size * 0.86

    def proj(p):
        rel = p - centre
        # Orthographic across the pair, tilted 15° from above: depth shifts points up a little.
        return (size / 2 + scale * np.dot(rel, across), floor_y - scale * (p[1] + 0.25 * np.dot(rel, depth)))

    d.line([(10, floor_y), (size - 10, floor_y)], fill=(190, 190, 185), width=1)
    order = np.argsort([np.dot(j[p, 0] - centre, depth) for p in (0, 1)])[::-1]
    for p in order:
        pts = [proj(q) for q in j[p]]
        for a, b in sk.BONES:
            d.line([pts[a], pts[b]], fill=COLOURS[p], width=4)
        hx, hy = pts[15]
        r = 0.09 * scale
        d.ellipse([hx - r, hy - r * 1.2, hx + r, hy + r * 0.8], outline=COLOURS[p], width=3)
    d.text((8, size - 24), caption, fill=(30, 30, 30))
    return img


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="assets/intersynth_contact_sheet.png")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cell", type=int, default=300)
    ap.add_argument("--cols", type=int, default=4)
    args = ap.parse_args()
    cells = []
    for i, cat in enumerate(SHOW):
        clip = generate_clip(args.seed * 1000 + i, category=cat, composite=False)
        t = key_frame(clip.label, clip.joints)
        lab = clip.label
        extra = " ".join(str(x) for x in (lab.get("side"), lab.get("count") and f"x{lab['count']}") if x)
        cells.append(draw_cell(clip.joints, t, args.cell, f"{cat.replace('_', ' ')} {extra}".strip()))
    rows = (len(cells) + args.cols - 1) // args.cols
    sheet = Image.new("RGB", (args.cols * args.cell, rows * args.cell), "white")
    for k, c in enumerate(cells):
        sheet.paste(c, ((k % args.cols) * args.cell, (k // args.cols) * args.cell))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
