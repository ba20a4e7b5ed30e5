"""A cheap look at what training buys: generate a fixed set of validation clips and score them.

Token loss says how well masked codes are predicted, not whether the motion does what the text says; the two
parted ways in earlier runs (loss still falling while side accuracy stayed at chance). So every ``--probe-every``
steps the model generates ``clips`` validation clips at their ground-truth lengths with the default sampling
settings, and the evaluation protocol's own code scores them: R-precision and FID with the evaluator, control
accuracy per attribute, physics; and up to twice as many clips whose text names the persons by order give the
order test of ``intermask/metrics/order.py`` (``order_gain``, ``order_wins``; not part of the score). ``score``
(higher is better) picks the checkpoint kept as ``best``.

The same probe scores any saved checkpoint, e.g. to compare runs or guidance scales on equal terms:

    python train/probe.py --checkpoint runs/t2m/best --data-root data/intersynth --clips 64 --cond-scale 2 3 4 \
        --out probe.json

Several values of ``--cond-scale``, ``--temperature``, ``--topk-ratio`` and ``--time-steps`` probe every combination
(the sampling-settings sweep behind the defaults, on the validation split so the test split stays unseen).
Several ``--seed`` values probe each on other clips and samples and print every checkpoint's mean score and range:
one checkpoint's 128-clip score moved by 0.05 between two seeds, so a single probe cannot separate checkpoints closer
than that.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the repository root, for the imports below
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

# Imported here, not when the first probe runs: a run loads every module it will use at start-up, so editing the
# checkout while a run goes on cannot break it at its first probe (it did: a half-edited module, an ImportError
# at step 300).
from intermask.api import InterMask
from intermask.evaluation import EvalConfig, open_test_set, replication
from intermask.metrics.order import order_clips, order_sensitivity
from intermask.models.evaluator import EvaluatorWithText
from intermask.settings import SamplingSettings

# What the probe score averages: retrieval and the four controls the targets ask >= 90% for.
SCORED = ("R_precision_top3", "actor", "side", "limb", "contact")


@dataclass
class Probe:
    data_root: str
    evaluator_dir: Path
    clips: int = 64
    split: str = "val"
    seed: int = 0
    settings: object = None  # SamplingSettings; None → the defaults users get

    def __post_init__(self):
        from intermask.data.interhuman import split_ids

        batch = min(32, self.clips, len(split_ids(self.data_root, self.split)))  # R-precision batch (whole batches)
        self.cfg = EvalConfig(split=self.split, replications=1, batch_size=batch, mm_clips=0,
                              mm_repeats=0, max_clips=self.clips, seed=self.seed, diversity_pairs=self.clips)
        self.dataset, self.indices = open_test_set(self.data_root, self.cfg)
        self.evaluator = EvaluatorWithText.from_dir(self.evaluator_dir)
        # Who acts when the text names the persons by order: a likelihood test (intermask/metrics/order.py).
        self.order_clips = order_clips(self.data_root, self.split, limit=2 * self.clips)
        if self.settings is None:
            self.settings = SamplingSettings()

    @torch.no_grad()
    def __call__(self, transformer, vq, normalizer, text_encoder, progress=None) -> dict[str, float]:
        """Scores of ``transformer`` (left in train mode afterwards) → flat {probe_<metric>: value}.

        progress: optional ``(desc, done, total)`` callback over the generated clips (``evaluation.Progress``)."""
        model = InterMask(vq, transformer, normalizer, text_encoder, Path("."))
        try:
            rep = replication(model, self.evaluator, self.dataset, self.indices, self.cfg, self.settings, 0, progress)
            order = order_sensitivity(model, self.order_clips) if self.order_clips else {}
        finally:
            transformer.train()
        out = {f"probe_{k}": float(v) for k, v in rep["generated"].items() if k.startswith(("R_precision", "FID"))}
        for attr, (correct, total) in rep.get("control", {}).get("generated", {}).items():
            out[f"probe_{attr}"] = correct / total
        for name, value in rep.get("physics", {}).get("generated", {}).items():
            if isinstance(value, (int, float)):
                out[f"probe_{name}"] = float(value)
        if order:
            out["probe_order_gain"] = order["mean_gain_nats_per_token"]
            out["probe_order_wins"] = order["true_wins"]
        scored = [out.get(f"probe_{k}", math.nan) for k in SCORED]
        out["probe_score"] = float(sum(v for v in scored if math.isfinite(v)) / len(scored))
        out["probe_clips"] = len(self.indices)
        out["probe_seconds"] = self.last_seconds = float(rep["seconds"])
        return out


CURVE_COLUMNS = ("R_precision_top3", "FID", "actor", "side", "limb", "contact", "order_wins", "score")


def learning_curve(log_path: Path) -> list[dict]:
    """The probe records of a run's log.jsonl with the training wall time at each: [{step, minutes, probe_*}].

    ``wall`` restarts from zero when a run is resumed; the curve adds up the segments, so the minutes are time
    spent training, not the gaps between sessions.
    """
    import json

    offset, last_wall, minutes_at = 0.0, 0.0, {}
    curve = []
    for line in Path(log_path).read_text().splitlines():
        rec = json.loads(line)
        if "wall" in rec:
            if rec["wall"] < last_wall:
                offset += last_wall
            last_wall = rec["wall"]
            minutes_at[rec["step"]] = (offset + rec["wall"]) / 60
        # Validation records of runs before a fix repeated the previous probe's numbers: skip them.
        if "probe_score" in rec and "val_loss" not in rec:
            point = {"step": rec["step"], "minutes": minutes_at.get(rec["step"], (offset + last_wall) / 60),
                     **{k: v for k, v in rec.items() if k.startswith("probe_")}}
            # A step probed twice (a run resumed from before its probe) keeps its last record.
            curve = [c for c in curve if c["step"] != rec["step"]] + [point]
    return curve


def curve_markdown(curve: list[dict]) -> str:
    head = "| step | training time | " + " | ".join(c.replace("R_precision_top3", "R@3") for c in CURVE_COLUMNS)
    rows = [head + " |", "|" + "---|" * (2 + len(CURVE_COLUMNS))]
    for r in curve:
        cells = [f"{r.get('probe_' + c, float('nan')):.3f}" if c != "FID" else f"{r.get('probe_FID', float('nan')):.1f}"
                 for c in CURVE_COLUMNS]
        rows.append(f"| {r['step']} | {r['minutes']:.0f} min | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def seed_summaries(records: list[dict]) -> list[dict]:
    """Per checkpoint and sampling settings: the probe score's mean, lowest and highest over the seeds probed."""
    groups: dict[tuple, list[float]] = {}
    for r in records:
        key = (r["checkpoint"], *((k, r[k]) for k in sorted(r) if k not in ("checkpoint", "seed")
                                  and not k.startswith("probe_")))
        groups.setdefault(key, []).append(r["probe_score"])
    return [{"checkpoint": key[0], **dict(key[1:]), "seeds": len(scores),
             "score_mean": round(sum(scores) / len(scores), 4), "score_min": round(min(scores), 4),
             "score_max": round(max(scores), 4)} for key, scores in groups.items()]


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    from intermask.api import DEFAULT_EVALUATOR, InterMask
    from intermask.errors import InterMaskError
    from intermask.settings import SamplingSettings

    p = argparse.ArgumentParser(description="Score checkpoints with the training probe (validation clips).")
    p.add_argument("--checkpoint", nargs="+", required=True, help="transformer checkpoint directories")
    p.add_argument("--data-root", required=True)
    p.add_argument("--clips", type=int, default=64)
    p.add_argument("--split", default="val")
    p.add_argument("--seed", type=int, nargs="+", default=[0],
                   help="probe seeds (which clips, which samples); with several, each checkpoint's mean score and "
                        "range over them are printed last")
    SamplingSettings.add_arguments(p, sweep=True)
    p.add_argument("--evaluator", default=str(DEFAULT_EVALUATOR))
    p.add_argument("--out", default=None, help="write the results (a list of records) as JSON")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    args = p.parse_args(argv)
    records = []
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=1, unit="clip", leave=False)
    try:
        models = {ckpt: InterMask.from_pretrained(ckpt) for ckpt in args.checkpoint}
        for seed in args.seed:
            probe = None
            for settings in SamplingSettings.sweep(args):
                if probe is None:
                    probe = Probe(args.data_root, Path(args.evaluator), args.clips, args.split, seed, settings)
                probe.settings = settings  # the same clips and seeds for every combination
                for ckpt, model in models.items():
                    def progress(_desc: str, done: int, total: int, name=f"{Path(ckpt).name} seed {seed}") -> None:
                        bar.set_description(name)
                        bar.total, bar.n = total, done
                        bar.refresh()

                    found = probe(model.transformer, model.vq, model.normalizer, model.text_encoder,
                                  progress if bar is not None else None)
                    records.append({"checkpoint": ckpt, "seed": seed, **settings.as_dict(), **found})
                    shown = {k[6:]: round(v, 3) for k, v in found.items() if k[6:] in SCORED + ("FID", "score")}
                    print(json.dumps({"checkpoint": ckpt, "seed": seed, **settings.as_dict(), **shown}), flush=True)
    except InterMaskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if bar is not None:
            bar.close()
    if len(args.seed) > 1:
        for summary in seed_summaries(records):
            print(json.dumps(summary), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(records, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
