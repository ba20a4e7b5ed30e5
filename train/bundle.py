"""Copy a trained checkpoint into the repository's bundle (checkpoints/<dataset>/<name>) for shipping.

    python train/bundle.py --src runs/t2m/best --dst checkpoints/intersynth/intermask --vq checkpoints/intersynth/vq
    python train/bundle.py --card-only --dst checkpoints/intersynth/intermask --metrics results/intermask.json
    python train/bundle.py --dst checkpoints/intersynth/vq --velocity-fusion 0.5

Drops the resumable training state (optimiser moments would triple the size), points ``vq_dir`` at the bundled
VQ-VAE with a relative path so the bundle works from any clone, and keeps config.json, weights, stats and card.
``--half`` stores the learned weights in float16 (half the size; buffers such as a VQ's codebook or an evaluator's
input statistics stay exact) for a bundle that would not fit the repository's size limit otherwise; the model still
computes in float32.
``--metrics`` writes result files (from ``python -m intermask eval --out`` or ``bench/vq_reconstruction.py
--out``) into the card's "## Metrics" section, with the command that produced each, so a card never holds a
number typed by hand.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

if __package__ in (None, ""):  # `python train/bundle.py` from anywhere
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from intermask.atomic import atomic_path  # noqa: E402 (after the path set-up above)

SHIPPED = ("config.json", "model.safetensors", "stats.npz", "card.md", "log.jsonl")
METRICS_HEADING = "## Metrics"


def metrics_markdown(path: Path) -> str:
    """One result file as Markdown: an evaluation (``rows``), a VQ ceiling (``rows`` with a ``reconstruction``
    row, ``bench/vq_ceiling.py``) or a VQ reconstruction (``quantised``) result."""
    result = json.loads(path.read_text())
    command = result.get("command")
    lines = [f"From `{path.as_posix()}`" + (f", made by `{command}`" if command else "") + ":", ""]
    if "reconstruction" in result.get("rows", {}):
        from intermask.commands.results import ceiling_markdown

        lines.append(ceiling_markdown(result).rstrip())
    elif "rows" in result:
        from intermask.evaluation import format_markdown

        lines.append(format_markdown(result).rstrip())
    elif "quantised" in result:
        lines += [f"Reconstruction of {result['windows']} windows of the {result['split']} split:", "",
                  "| | MPJPE | root position | pose (root-relative) |", "|---|---|---|---|"]
        for name, label in (("quantised", "quantised"), ("continuous", "encoder → decoder, no codebook")):
            r = result[name]
            lines.append(f"| {label} | {r['mpjpe_m']:.3f} m | {r['root_m']:.3f} m | {r['pose_m']:.3f} m |")
    else:
        raise SystemExit(f"{path}: not an evaluation, VQ ceiling or VQ reconstruction result")
    return "\n".join(lines) + "\n"


def write_metrics(card: Path, results: list[Path]) -> None:
    """Replace the card's "## Metrics" section (to the end of the file) with the given result files."""
    text = card.read_text() if card.exists() else ""
    head = text.split(METRICS_HEADING)[0].rstrip()
    body = "\n".join(metrics_markdown(r) for r in results)
    card.write_text((head + "\n\n" if head else "") + f"{METRICS_HEADING}\n\n{body}")


CURVE_HEADING = "## Learning curve"


def write_curve(card: Path, log: Path) -> None:
    """Put the run's probe records (train/probe.py) in the card's "## Learning curve", before its metrics."""
    import re

    from train.probe import curve_markdown, learning_curve

    curve = learning_curve(log)
    if not curve:
        raise SystemExit(f"{log} has no probe records (train with --probe-every N)")
    text = card.read_text() if card.exists() else ""
    head, sep, metrics = text.partition(METRICS_HEADING)
    head = re.sub(rf"{re.escape(CURVE_HEADING)}\n.*?(?=\n## |\Z)", "", head, flags=re.S).rstrip()
    clips = curve[-1].get("probe_clips", "the")
    section = (f"{CURVE_HEADING}\n\nThe training probe ({clips} validation clips generated at "
               "their own lengths with the default sampling settings, every --probe-every steps; training time "
               f"adds up resumed segments), from `{log.name}`:\n\n{curve_markdown(curve)}")
    card.write_text(head + "\n\n" + section + ("\n" + sep + metrics if sep else ""))


def store_half(directory: Path) -> tuple[int, int]:
    """Rewrite ``directory/model.safetensors`` with the learned weights (the model's parameters) in float16.

    Buffers stay as they are: a VQ's codebook is one, and the nearest-code search should see it exactly. Loading
    needs nothing new: ``load_state_dict`` copies the float16 values into the model's float32 parameters.
    Returns (bytes before, bytes after).
    """
    import torch
    from safetensors.torch import load_file, save_file

    from intermask.checkpoint import WEIGHTS, load_transformer, load_vq, read_json_config
    from intermask.models.evaluator import KIND as EVALUATOR, load_evaluator

    kind = read_json_config(directory).get("kind")
    loaders = {"vq": lambda d: load_vq(d)[0], "transformer": lambda d: load_transformer(d)[0],
               EVALUATOR: load_evaluator}
    if kind not in loaders:
        raise SystemExit(f"{directory}: float16 storage is for VQ, transformer and evaluator checkpoints, "
                         f"not {kind!r}")
    model = loaders[kind](directory)
    learned = {name for name, _ in model.named_parameters()}
    path = directory / WEIGHTS
    before = path.stat().st_size
    state = load_file(str(path))
    save_file({k: v.half() if k in learned and v.dtype == torch.float32 else v for k, v in state.items()}, str(path))
    return before, path.stat().st_size


def set_velocity_fusion(directory: Path, weight: float) -> None:
    """Record the decoding's velocity fusion weight (features.fuse_velocities) in a VQ checkpoint's config."""
    meta = json.loads((directory / "config.json").read_text())
    if meta.get("kind") != "vq":
        raise SystemExit(f"{directory}: velocity fusion is a VQ-VAE's decoding setting; this is a {meta.get('kind')!r}")
    meta["vq"]["velocity_fusion"] = float(weight)
    with atomic_path(directory / "config.json") as tmp:  # a shipped checkpoint is changed in place
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def bundle(src: Path, dst: Path, vq: Path | None = None, half: bool = False,
           velocity_fusion: float | None = None) -> Path:
    if not (src / "config.json").exists():
        raise SystemExit(f"{src} is not a checkpoint directory (no config.json)")
    with atomic_path(dst) as tmp:
        tmp.mkdir()
        for name in SHIPPED:
            if (src / name).exists():
                shutil.copy2(src / name, tmp / name)
        if vq is not None:
            meta = json.loads((tmp / "config.json").read_text())
            meta["vq_dir"] = os.path.relpath(vq.resolve(), dst.resolve())
            (tmp / "config.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        if velocity_fusion is not None:
            set_velocity_fusion(tmp, velocity_fusion)
        if half:
            before, after = store_half(tmp)
            print(f"float16 weights: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")
    return dst


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", type=Path, help="trained checkpoint directory (e.g. runs/vq/best)")
    p.add_argument("--dst", required=True, type=Path)
    p.add_argument("--vq", type=Path, default=None, help="bundled VQ-VAE directory (transformers only)")
    p.add_argument("--metrics", type=Path, nargs="*", default=[], help="result JSON files for the card")
    p.add_argument("--log", type=Path, default=None,
                   help="the run's log.jsonl: its probe records become the card's learning curve")
    p.add_argument("--card-only", action="store_true", help="only rewrite DST/card.md's metrics")
    p.add_argument("--half", action="store_true",
                   help="store the learned weights in float16 (half the size; the bundle's size limit); the model "
                        "still computes in float32")
    p.add_argument("--velocity-fusion", type=float, default=None, metavar="W",
                   help="VQ-VAEs: decode with positions fitted to the decoded velocities too, at this weight "
                        "(docs/design-notes.md, \"Decoding positions\"; 0 = positions only)")
    args = p.parse_args(argv)
    if args.src is None and args.velocity_fusion is not None and not args.card_only:
        set_velocity_fusion(args.dst, args.velocity_fusion)  # a shipped VQ's decoding, changed in place
        print(f"{args.dst}: velocity_fusion {args.velocity_fusion:g}")
    elif not args.card_only:
        if args.src is None:
            p.error("--src is required unless --card-only or --velocity-fusion is given")
        print(bundle(args.src, args.dst, args.vq, args.half, args.velocity_fusion))
    if args.log is not None:
        write_curve(args.dst / "card.md", args.log)
        print(f"{args.dst / 'card.md'}: learning curve from {args.log}")
    if args.metrics:
        write_metrics(args.dst / "card.md", args.metrics)
        print(f"{args.dst / 'card.md'}: metrics from {len(args.metrics)} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
