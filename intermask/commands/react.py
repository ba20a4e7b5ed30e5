"""`python -m intermask react`: person B reacting to an uploaded partner motion.

With ``--stream`` the partner is a live stream and the reaction follows it frame by frame
(:meth:`intermask.api.InterMask.react_stream`): a file is replayed at 30 fps as if it were live and the latency of
every reaction frame is measured; ``--partner -`` reads the partner from standard input, one JSON array of 22
[x, y, z] joints per line, and writes the reaction to standard output the same way, a line per frame as soon as it
is made, so that another program can drive it.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from intermask.commands.generate import add_sampling_arguments, load_model, produce, sampling_kwargs, write_outputs
from intermask.errors import InterMaskError
from intermask.validation import MAX_SECONDS

STDIN = "-"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from intermask.settings import StreamSettings

    parser.add_argument("--partner", required=True,
                        help="partner motion: .npz, .npy (joints/262/492) or .bvh; '-' streams JSON lines of 22×3 "
                             "joints from standard input (implies --stream)")
    parser.add_argument("--text", default="", help="optional description of the interaction")
    parser.add_argument("--seconds", type=float, default=None,
                        help=f"duration (default: the partner's, ≤ {MAX_SECONDS:g} s; not with --stream)")
    parser.add_argument("--stream", action="store_true",
                        help="react live, frame by frame (3-frame lookahead, any length; not refined): a file is "
                             "replayed at 30 fps and the latency printed")
    parser.add_argument("--as-fast-as-possible", action="store_true",
                        help="with --stream and a file: feed frames without waiting for their time")
    StreamSettings.add_arguments(parser)
    add_sampling_arguments(parser, reaction=True, out_required=False)


def run(args: argparse.Namespace) -> int:
    if args.partner == STDIN:
        return stream_stdio(args)
    if args.out is None:
        raise InterMaskError("Give --out DIR for the reaction's files (only --partner - writes to standard output).")
    if args.stream:
        return stream_file(args)
    return produce(args, "reacting", lambda model, progress: [model.react(
        args.partner, text=args.text, seconds=args.seconds, progress=progress, **sampling_kwargs(args))], ["reaction"])


def stream_kwargs(args: argparse.Namespace) -> dict:
    from intermask.settings import SamplingSettings, StreamSettings

    # A stream takes its rounds from its own settings.
    knobs = [n for n in SamplingSettings.reaction_knobs() if n != "time_steps"] + list(StreamSettings.knobs())
    if args.seconds is not None or args.foot_cleanup:
        raise InterMaskError("--seconds and --foot-cleanup do not apply to --stream: a stream lasts as long as its "
                             "partner, and its frames are final when they are written.")
    return dict(text=args.text, seed=args.seed, **{n: getattr(args, n) for n in knobs})


# ---------------------------------------------------------------------------------------------------- a file
def latency_report(frames, start: float, realtime: bool) -> str:
    """One paragraph of latency figures: each reaction frame against the time its partner frame was due."""
    from intermask.motion.features import FPS

    done = np.array([t for _, t in frames])
    needed = np.array([f.partner_frame for f, _ in frames])
    made = np.array([f.index for f, _ in frames])
    compute = np.array([f.latency for f, _ in frames])
    lines = [f"streamed {len(frames)} frames ({len(frames) / FPS:.1f} s)"]
    if realtime:
        late = done - (start + needed / FPS)  # behind the partner frame the reaction frame waited for
        behind = done - (start + made / FPS)  # behind the reaction frame's own time (includes the lookahead)
        lines.append(f"latency after the needed partner frame: median {np.median(late) * 1000:.0f} ms, "
                     f"95% {np.percentile(late, 95) * 1000:.0f} ms, worst {late.max() * 1000:.0f} ms; "
                     f"behind the frame's own time (with the ≤ 3-frame lookahead): median "
                     f"{np.median(behind) * 1000:.0f} ms, worst {behind.max() * 1000:.0f} ms")
    lines.append(f"compute per reaction frame: mean {(done[-1] - done[0]) / max(1, len(done) - 1) * 1000:.1f} ms "
                 f"between frames; from its partner frame's arrival to being made: median "
                 f"{np.median(compute) * 1000:.0f} ms, worst {compute.max() * 1000:.0f} ms")
    return "\n".join(lines)


def stream_file(args: argparse.Namespace) -> int:
    from intermask.motion.interaction import Interaction
    from intermask.motion.loaders import load_partner
    from intermask.streaming import replay

    kwargs = stream_kwargs(args)
    partner = load_partner(args.partner)
    model = load_model(args)
    realtime = not args.as_fast_as_possible
    start = time.perf_counter()
    made = [(frame, time.perf_counter())
            for frame in model.react_stream(replay(partner.joints, start, realtime), **kwargs)]
    print(latency_report(made, start, realtime), file=sys.stderr)
    joints_b = np.stack([f.joints for f, _ in made])
    rot_b = np.stack([f.rot6d for f, _ in made])
    meta = {"checkpoint": model.checkpoint_dir.name, "mode": "react-stream", "partner": partner.source,
            **{k: v for k, v in kwargs.items() if k != "text"}}
    clip = Interaction(np.stack([partner.joints, joints_b]), np.stack([partner.rot6d, rot_b]), text=args.text,
                       meta=meta)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for p in write_outputs(clip, out_dir, "reaction", args):
        print(p)
    return 0


# ---------------------------------------------------------------------------------------------------- stdin
def json_frames(lines):
    """Partner frames from JSON lines (blank lines skipped); a line that is not JSON ends the stream with a
    sentence naming it."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            raise InterMaskError(f"Line {number} of standard input is not JSON ({line.strip()[:40]!r}); send one "
                                 "JSON array of 22 [x, y, z] joint positions per line.") from None


def stream_stdio(args: argparse.Namespace) -> int:
    kwargs = stream_kwargs(args)
    model = load_model(args)
    out = sys.stdout
    count = 0
    for frame in model.react_stream(json_frames(sys.stdin), **kwargs):
        out.write(json.dumps(np.round(frame.joints.astype(float), 5).tolist()) + "\n")
        out.flush()  # a driving program reads each frame as soon as it is made
        count += 1
    print(f"streamed {count} frames", file=sys.stderr)
    return 0
