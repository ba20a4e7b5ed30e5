"""`python -m intermask render`: an interaction file → MP4 of body meshes or stick figures.

    python -m intermask render --motion clip.npz --out clip.mp4
    python -m intermask render --motion clip.npz --out clip.mp4 --style stick --views 2 --size 384
    python -m intermask render --motion clip.npz --out clip.mp4 --body smplx --body-models ~/models
"""
from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--motion", required=True, help="interaction file (.npz exchange format)")
    parser.add_argument("--out", required=True, help="output video (.mp4, H.264)")
    parser.add_argument("--style", choices=("mesh", "stick"), default=None,
                        help="body meshes (off-screen OpenGL) or stick figures (no OpenGL); default: mesh, or stick "
                             "figures with a one-line note where OpenGL is unavailable")
    parser.add_argument("--size", type=int, default=512, help="height and per-view width in pixels (default 512)")
    parser.add_argument("--views", type=int, choices=(1, 2), default=1,
                        help="1, or 2 side-by-side viewpoints 90 degrees apart (default 1)")
    parser.add_argument("--body", choices=("mannequin", "smpl", "smplx"), default="mannequin",
                        help="body model for --style mesh: the bundled wooden mannequin (default), or SMPL / "
                             "SMPL-X from your own model files (needs --body-models and pip install intermask[smpl])")
    parser.add_argument("--body-models", default=None, metavar="DIR",
                        help="directory with SMPL_NEUTRAL.pkl / SMPLX_NEUTRAL.npz (or smpl/, smplx/ subfolders); "
                             "default: $INTERMASK_BODY_MODELS")
    parser.add_argument("--detail", choices=("low", "medium", "full"), default="medium",
                        help="body mesh resolution; medium keeps the look and renders ~2x faster than full")
    parser.add_argument("--caption", default=None,
                        help="text drawn at the top; '-' uses the interaction's own text (default: no caption)")
    parser.add_argument("--azimuth", type=float, default=None,
                        help="camera angle about the vertical axis in degrees (default: a side view of the pair)")
    parser.add_argument("--elevation", type=float, default=15.0, help="camera elevation in degrees (default 15)")
    parser.add_argument("--follow", action="store_true", help="camera follows the pair instead of staying fixed")
    parser.add_argument("--smooth", type=float, default=1.0,
                        help="temporal smoothing of body rotations, Gaussian sigma in frames (0: off; default 1)")


def run(args: argparse.Namespace) -> int:
    import time

    from intermask.motion.interaction import load_interaction
    from intermask.render import CameraSettings, choose_style, render_video

    clip = load_interaction(args.motion)
    style = choose_style(args.style, note=lambda text: print(f"note: {text}", file=sys.stderr))
    caption = clip.text if args.caption == "-" else args.caption
    camera = CameraSettings(azimuth=args.azimuth, elevation=args.elevation, follow=args.follow)
    start = time.perf_counter()
    path = render_video(clip, args.out, style=style, size=args.size, views=args.views, body=args.body,
                        body_models=args.body_models, caption=caption or None, camera=camera, detail=args.detail,
                        smooth=args.smooth)
    print(f"{path} ({clip.num_frames} frames, {time.perf_counter() - start:.1f} s)")
    return 0
