"""`python -m intermask export`: convert an interaction file (.npz) to BVH and/or an animated GLB.

    python -m intermask export --motion clip.npz --bvh clip.bvh                 # both persons, one file, two roots
    python -m intermask export --motion clip.npz --bvh clip.bvh --per-person    # clip_A.bvh and clip_B.bvh
    python -m intermask export --motion clip.npz --glb clip.glb
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--motion", required=True, help="interaction file (.npz exchange format)")
    parser.add_argument("--bvh", default=None, help="write BVH here (Y-up, metres, SMPL joint names)")
    parser.add_argument("--per-person", action="store_true",
                        help="one BVH per person: <name>_A.bvh and <name>_B.bvh instead of one file with two roots")
    parser.add_argument("--glb", default=None, help="write an animated GLB (glTF binary) here")


def run(args: argparse.Namespace) -> int:
    from intermask.errors import InterMaskError
    from intermask.motion.interaction import load_interaction

    if not args.bvh and not args.glb:
        raise InterMaskError("Nothing to export: give --bvh OUT.bvh and/or --glb OUT.glb.")
    if args.per_person and not args.bvh:
        raise InterMaskError("--per-person applies to BVH export; give --bvh OUT.bvh as well.")
    clip = load_interaction(args.motion)
    written = []
    if args.bvh:
        from intermask.motion.bvh import write_bvh

        written += write_bvh(args.bvh, clip, per_person=args.per_person)
    if args.glb:
        try:
            from intermask.render.glb import write_glb
        except ImportError as exc:
            raise InterMaskError(f"GLB export is not available in this installation ({exc}).") from None
        written.append(write_glb(clip, args.glb))
    for path in written:
        print(path)
    return 0
