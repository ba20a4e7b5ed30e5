"""Rendering speed: a 3 s two-person clip (90 frames) at 512², mesh (1 view) and stick figures (1 view).

    python bench/bench_render.py [--runs 3] [--size 512] [--frames 90] [--detail medium] [--out bench/RESULTS-render.md]

Prints medians over runs of the wall time and its split (posing+fitting, skinning, rendering, encoding
wait), plus the straightforward pipeline's cost for comparison (a new pyrender mesh per frame, pyrender's
own shader, full-resolution body). Timings are medians of separate runs in one process; the first run of
each kind also pays one-time costs (body loading, decimation, shader compilation) and is reported apart.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from machine import describe  # noqa: E402  (bench/machine.py)

from intermask.render import render_video  # noqa: E402
from intermask.render.sample import sample_interaction  # noqa: E402



def naive_mesh(clip, size: int, path: str) -> dict:
    """The straightforward pipeline: full body, new pyrender meshes each frame, pyrender's PBR shader."""
    from intermask.render.body import load_body
    from intermask.render.camera import CameraSettings, frame_camera
    from intermask.render.mesh import prepare_bodies
    from intermask.render.scene import import_pyrender
    from intermask.render.video import VideoWriter

    pyrender = import_pyrender()
    import trimesh

    t0 = time.perf_counter()
    skinners = prepare_bodies(clip, load_body("mannequin", detail="full"))
    cam = frame_camera(clip.joints, CameraSettings(), 1.0)
    renderer = pyrender.OffscreenRenderer(size, size)
    build = render = 0.0
    with VideoWriter(path, size, size) as writer:
        for t in range(clip.num_frames):
            a = time.perf_counter()
            scene = pyrender.Scene(bg_color=[0.93, 0.94, 0.96, 1.0], ambient_light=[0.4, 0.4, 0.4])
            for s in skinners:
                v, _ = s.vertices(t, t + 1, normals=False)
                scene.add(pyrender.Mesh.from_trimesh(trimesh.Trimesh(v[0], s.faces, process=False)))
            scene.add(pyrender.Mesh.from_trimesh(trimesh.creation.box((8, 0.02, 8))))
            scene.add(pyrender.PerspectiveCamera(yfov=cam.yfov), pose=cam.pose(t))
            scene.add(pyrender.DirectionalLight(intensity=3.0), pose=cam.pose(t))
            b = time.perf_counter()
            color, _ = renderer.render(scene)
            c = time.perf_counter()
            writer.write(color)
            build += b - a
            render += c - b
    renderer.delete()
    return {"total": time.perf_counter() - t0, "building meshes": build, "rendering": render}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--detail", default="medium")
    ap.add_argument("--naive", action="store_true", help="also time the straightforward pipeline (slow)")
    ap.add_argument("--out", default=None, help="append a Markdown table of the results to this file")
    args = ap.parse_args()
    clip = sample_interaction(args.frames, seed=0)
    tmp = tempfile.mkdtemp(prefix="bench-render-")
    rows = []
    from intermask.render.scene import choose_platform

    choose_platform()
    print(describe())
    for label, kw in (("mesh, 1 view", dict(style="mesh", detail=args.detail)),
                      ("mesh, 1 view, full detail", dict(style="mesh", detail="full")),
                      ("stick, 1 view", dict(style="stick"))):
        times, splits = [], []
        for run in range(args.runs + 1):  # run 0 warms caches (body decimation, imports)
            timings: dict = {}
            start = time.perf_counter()
            render_video(clip, os.path.join(tmp, "clip.mp4"), size=args.size, timings=timings, **kw)
            total = time.perf_counter() - start
            if run == 0:
                first = total
                continue
            times.append(total)
            splits.append(timings)
        med = statistics.median(times)
        split = {k: statistics.median(s.get(k, 0.0) for s in splits) for k in splits[0]}
        desc = ", ".join(f"{k} {v:.2f}" for k, v in split.items())
        print(f"{label:28s} median {med:.2f} s (runs {', '.join(f'{t:.2f}' for t in times)}; first {first:.2f})"
              f"  [{desc}]")
        rows.append((label, med, times, first, desc))
    if args.naive:
        r = naive_mesh(clip, args.size, os.path.join(tmp, "naive.mp4"))
        desc = ", ".join(f"{k} {v:.2f}" for k, v in r.items() if k != "total")
        print(f"{'naive mesh (reference)':28s} {r['total']:.2f} s  [{desc}]")
        rows.append(("naive mesh pipeline (reference, 1 run)", r["total"], [r["total"]], r["total"], desc))
    if args.out:
        with open(args.out, "a") as fh:
            fh.write(f"\n### {time.strftime('%Y-%m-%d %H:%M')} · {args.frames} frames at {args.size}² · "
                     f"{args.runs} runs\n\n{describe()}\n\n| case | median s | runs s | first run s | split (s) |\n"
                     "|---|---|---|---|---|\n")
            for label, med, times, first, desc in rows:
                fh.write(f"| {label} | {med:.2f} | {', '.join(f'{t:.2f}' for t in times)} | {first:.2f} | "
                         f"{desc} |\n")


if __name__ == "__main__":
    main()
