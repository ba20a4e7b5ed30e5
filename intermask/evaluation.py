"""The evaluation protocol: generate the test split at ground-truth lengths, embed GT and
generated motion with the text-motion evaluator, and score retrieval/distribution metrics, control accuracy and
physical plausibility over replications (mean ± 95% CI).

One replication r:
1. the test set is drawn with ``set_epoch(r)`` (its crop, description and person-swap draws come from
   (seed, r, index)), giving each clip's GT features (2, F, 262), de-normalised and world-scale;
2. every clip is generated once from its drawn description at its GT length F, in batches of similar lengths
   (seeds from (seed, r, batch)). In reaction mode person A's GT features are VQ-encoded and held fixed while B is
   decoded (``InterMask.react_features``, with the reaction's time steps of ``SamplingSettings.for_reaction``: half
   the generation steps, as the official ``--gen_react``), and the scored pair is [GT A, generated B];
3. ``mm_clips`` clips get ``mm_repeats`` further generations each for multimodality;
4. GT and generated features go through the same evaluator path (chunks padded to the chunk's longest clip; the
   evaluator masks padding). No re-framing is needed: the model's decoded features are in its canonical frame, the
   same convention as the data set's GT items (both persons in one person's canonical frame, floor at y = 0);
5. R-precision and MM-Dist over full batches of ``batch_size`` pairs (the same shuffled batches for GT and generated),
   FID against the GT embeddings, diversity, multimodality, and the GT's own rows, plus the FID between two disjoint
   random halves of the GT (the sampling-noise floor FID should be compared with);
6. control accuracy (InterSynth labels) and physics on joints taken from the features, for generated and GT.

By default the generated motion is scored raw, as the model decodes it; ``refine`` scores it after the API's
refinement step (:mod:`intermask.motion.refine`), so both can be reported from the same generations.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from intermask.errors import InterMaskError
from intermask.metrics import control, physics, seams
from intermask.metrics import retrieval as R
from intermask.motion.features import FEATURE_DIM, FPS, features_to_joints
from intermask.motion.refine import refine_features
from intermask.settings import SamplingSettings, StreamSettings
from intermask.streaming import stream_reaction_features

RETRIEVAL_COLUMNS = ("R_precision_top1", "R_precision_top2", "R_precision_top3", "FID", "MM_Dist", "Diversity",
                     "MultiModality")
Progress = Callable[[str, int, int], None]


def _setting(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass
class EvalConfig:
    """The protocol's settings; each field's ``help`` is also its command-line help (``python -m intermask eval``)."""
    split: str = _setting("test", "split to evaluate: train, val or test")
    replications: int = _setting(20, "replications (each redraws descriptions, person swaps and noise)")
    batch_size: int = _setting(R.DEFAULT_BATCH, "R-precision / MM Dist batch; part of the metric")
    mm_clips: int = _setting(100, "clips for multimodality")
    mm_repeats: int = _setting(30, "generations per multimodality clip")
    mm_pairs: int = _setting(10, "pairs per multimodality clip")
    diversity_pairs: int = _setting(300, "pairs for diversity")
    gen_batch: int = _setting(32, "clips per generation call (speed and memory; the noise stream depends on it)")
    max_clips: int = _setting(0, "evaluate a fixed random subset of this many clips (0 = the whole split)")
    react: bool = _setting(False, "reaction generation: person A's ground truth is given, B is generated in half "
                                  "the time steps, as the official code")
    stream: bool = _setting(False, "with --react: B is streamed, token by token as A's frames arrive "
                                   "(intermask.streaming, default stream settings), instead of made offline")
    refine: bool = _setting(False, "score refined output (intermask.motion.refine, the API's default) instead of "
                                   "the raw model output; in reaction mode person A stays the ground truth's")
    seed: int = _setting(0, "seed of every draw of the protocol")
    max_frames: int = _setting(300, "longest clip (frames)")
    control: bool = _setting(True, "control accuracy (InterSynth labels)")
    physics: bool = _setting(True, "physical plausibility")


def derive_seed(*parts: int) -> int:
    """A seed derived from integers (a base seed, a replication, a purpose): the evaluation's only source of seeds."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


# ---------------------------------------------------------------------------------------------------- models
def load_generator(checkpoint: str | os.PathLike | None = None, text_encoder=None):
    """An :class:`intermask.api.InterMask` from a transformer checkpoint directory (None → the bundled one)."""
    from intermask.api import InterMask

    return InterMask.from_pretrained(checkpoint, text_encoder=text_encoder)


# ---------------------------------------------------------------------------------------------------- generation
def _length_batches(lengths: list[int], size: int) -> list[list[int]]:
    """Indices grouped into batches of similar lengths (a batch costs as much as its longest member)."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    return [order[i:i + size] for i in range(0, len(order), size)]


def generate_set(model, texts: list[str], gt: list[np.ndarray], seed: int, settings: SamplingSettings,
                 gen_batch: int, react: bool = False, progress: Callable[[int], None] | None = None,
                 refine: bool = False, stream: bool = False) -> list[np.ndarray]:
    """One generation per (text, GT clip) at the GT clip's length → de-normalised (2, F_i, 262) each.

    With ``react`` person A is the GT clip's own and B is generated: the scored pair is [GT A, generated B].
    With ``refine`` each pair is refined as the API refines it (A untouched in reaction mode); the generation
    itself, and so its random stream, is the same either way. With ``stream`` (reaction only) each clip's B is
    streamed (:func:`intermask.streaming.stream_reaction_features`), clip by clip, seeded per clip.
    """
    lengths = [int(g.shape[1]) for g in gt]
    out: list[np.ndarray | None] = [None] * len(texts)
    for b, idx in enumerate(_length_batches(lengths, gen_batch)):
        s = derive_seed(seed, b)
        batch_texts = [texts[i] for i in idx]
        if react and stream:
            feats = [stream_reaction_features(model, gt[i][0], texts[i], derive_seed(s, i), settings, StreamSettings())
                     for i in idx]
        elif react:
            feats = model.react_features([gt[i][0] for i in idx], batch_texts, s, settings.for_reaction())
        else:
            feats = model.sample_features(batch_texts, [lengths[i] for i in idx], s, settings)
        for i, f in zip(idx, feats):
            out[i] = np.asarray(f, dtype=np.float32)
            if refine:
                out[i] = refine_features(out[i], fixed=(0,) if react else (), fps=FPS,
                                         smoothing=model.refine_smoothing)
        if progress is not None:
            progress(len(idx))
    return out


# ---------------------------------------------------------------------------------------------------- embeddings
def embed_motions(evaluator, feats: list[np.ndarray], chunk: int = 64) -> np.ndarray:
    """Evaluator embeddings (N, D) of de-normalised pairs (2, F_i, 262)."""
    out = []
    for i in range(0, len(feats), chunk):
        part = feats[i:i + chunk]
        t = max(f.shape[1] for f in part)
        x = np.zeros((len(part), t, 2, FEATURE_DIM), dtype=np.float32)
        for k, f in enumerate(part):
            x[k, :f.shape[1]] = np.transpose(f, (1, 0, 2))
        lengths = torch.tensor([f.shape[1] for f in part])
        out.append(evaluator.embed_motions(torch.from_numpy(x), lengths).numpy())
    return np.concatenate(out).astype(np.float64)


def embed_texts(evaluator, texts: list[str], chunk: int = 256) -> np.ndarray:
    return np.concatenate([evaluator.embed_texts(texts[i:i + chunk]).numpy()
                           for i in range(0, len(texts), chunk)]).astype(np.float64)


# ---------------------------------------------------------------------------------------------------- control
def slot_label(label: dict, persons) -> dict:
    """A label (actor in file order) for an item whose output slot k shows file person ``persons[k]``."""
    actor = label.get("actor")
    if actor in (0, 1) and persons is not None:
        return {**label, "actor": int(list(np.asarray(persons)).index(actor))}
    return label


def item_labels(items: list[dict]) -> list[dict | None]:
    """Each evaluation item's label in its output slots' order (:func:`slot_label`), None where it has none."""
    return [slot_label(it["label"], it.get("persons")) if it.get("label") else None for it in items]


def acting_slot(label: dict, joints: np.ndarray) -> int:
    """The output slot (0 or 1) that does a one-actor label's action more, by the motion; the label's own slot
    where the category has no such measure."""
    first = control.check_actor({**label, "actor": 0}, joints)
    return int(label["actor"]) if first is None else (0 if first else 1)


def acting_label(label: dict, joints: np.ndarray) -> dict:
    """``label`` with a one-actor label's actor set to the slot that acts by the motion (:func:`acting_slot`)."""
    return {**label, "actor": acting_slot(label, joints)} if label.get("actor") in (0, 1) else label


def control_checks(label: dict, joints: np.ndarray) -> dict[str, bool | None]:
    """The label's checks with the acting person chosen by the motion, not by the slot order.

    Models (and the evaluator) are trained with random person swaps, so which slot is "the first person" is not
    learnable; what a description fixes is that one person acts (or both) and how. So for a one-actor label the
    actor is the person who does the labelled action more (side, limb, count, contact are checked on that person),
    and ``actor`` asks whether exactly one person does it (not both); categories where that cannot be told apart
    without an order (the check for "both" is not defined) count as not applicable. Labels for both persons keep
    their own checks.
    """
    if label.get("actor") not in (0, 1):
        return control.check_all(label, joints)
    res = control.check_all(acting_label(label, joints), joints)
    both = control.check_actor({**label, "actor": "both"}, joints)
    res["actor"] = None if both is None else (not both)
    return res


def control_scores(labels: list[dict | None], joints: list[np.ndarray]) -> dict[str, tuple[int, int]]:
    """{attribute: (correct, applicable)} over clips with labels."""
    counts = {a: [0, 0] for a in control.ATTRIBUTES}
    for label, j in zip(labels, joints):
        if not label:
            continue
        for k, v in control_checks(label, j).items():
            if v is not None and k in counts:
                counts[k][0] += int(bool(v))
                counts[k][1] += 1
    return {k: (c, t) for k, (c, t) in counts.items() if t}


def control_by_category(labels: list[dict | None], joints: list[np.ndarray]) -> dict[str, dict[str, tuple[int, int]]]:
    """{category: {attribute: (correct, applicable)}}: which actions lose which attribute."""
    groups: dict[str, tuple[list, list]] = {}
    for label, j in zip(labels, joints):
        if label and label.get("category"):
            ls, js = groups.setdefault(label["category"], ([], []))
            ls.append(label)
            js.append(j)
    return {cat: scores for cat, (ls, js) in sorted(groups.items()) if (scores := control_scores(ls, js))}


# ---------------------------------------------------------------------------------------------------- one replication
def _pairs(n_items: int, wanted: int) -> int:
    return max(1, min(wanted, n_items))


def distribution_row(e_text: np.ndarray, e_motion: np.ndarray, cfg: EvalConfig, r: int,
                     e_ref: np.ndarray | None) -> dict[str, float]:
    """Matching metrics in the replication's batches, FID against e_ref (if given), diversity."""
    row = R.matching_metrics(e_text, e_motion, cfg.batch_size, rng=np.random.default_rng(derive_seed(cfg.seed, r, 11)))
    row.pop("batch_size", None)
    if e_ref is not None:
        row["FID"] = R.fid(e_ref, e_motion)
    row["Diversity"] = R.diversity(e_motion, np.random.default_rng(derive_seed(cfg.seed, r, 12)),
                                   _pairs(len(e_motion), cfg.diversity_pairs))
    return row


def clip_set(dataset, indices: list[int], epoch: int) -> tuple[list[dict], list[str], list[np.ndarray]]:
    """The test items of ``indices`` at ``epoch`` (which description each clip gets), their texts and their
    de-normalised ground-truth pairs (2, F_i, 262)."""
    dataset.set_epoch(epoch)
    items = [dataset[i] for i in indices]
    return items, [it["text"] for it in items], [np.asarray(it["motion"][:, :it["length"]], dtype=np.float32)
                                                 for it in items]


def replication(model, evaluator, dataset, indices: list[int], cfg: EvalConfig, settings: SamplingSettings, r: int,
                progress: Progress | None = None) -> dict:
    """Everything measured in replication r: {"generated": {...}, "ground_truth": {...}, "gt_halves": {...},
    "control": {"generated": {...}, "ground_truth": {...}}, "physics": {...}, "seconds": s}."""
    return replication_scored(model, [evaluator], dataset, indices, cfg, settings, r, progress)[0]


def replication_scored(model, evaluators: list, dataset, indices: list[int], cfg: EvalConfig,
                       settings: SamplingSettings, r: int, progress: Progress | None = None) -> list[dict]:
    """Replication r generated once and scored by each evaluator: one :func:`replication` dict per evaluator,
    identical but for the evaluator's rows (retrieval, FID, MM Dist, diversity, multimodality)."""
    t0 = time.time()
    items, texts, gt = clip_set(dataset, indices, r)
    n = len(items)
    mm_idx = np.random.default_rng(derive_seed(cfg.seed, r, 3)).permutation(n)[:min(cfg.mm_clips, n)]
    mm_repeats = cfg.mm_repeats if len(mm_idx) and cfg.mm_repeats >= 2 else 0
    total = n + len(mm_idx) * mm_repeats
    done = [0]

    def tick(k: int) -> None:
        done[0] += k
        if progress is not None:
            progress(f"replication {r + 1}/{cfg.replications}", done[0], total)

    gen = generate_set(model, texts, gt, derive_seed(cfg.seed, r, 1), settings, cfg.gen_batch, cfg.react, tick,
                       cfg.refine, cfg.stream)
    mm = []
    if mm_repeats:
        rep_texts = [texts[i] for i in mm_idx for _ in range(mm_repeats)]
        rep_gt = [gt[i] for i in mm_idx for _ in range(mm_repeats)]
        mm = generate_set(model, rep_texts, rep_gt, derive_seed(cfg.seed, r, 2), settings, cfg.gen_batch,
                          cfg.react, tick, cfg.refine, cfg.stream)

    shared: dict = {}
    labels = item_labels(items)
    joints_gt = [features_to_joints(g) for g in gt]
    joints_gen = [features_to_joints(g) for g in gen]
    if cfg.control and any(labels):
        shared["control"] = {"generated": control_scores(labels, joints_gen),
                             "ground_truth": control_scores(labels, joints_gt)}
        shared["control_by_category"] = control_by_category(labels, joints_gen)
    if cfg.physics:
        shared["physics"] = {"generated": physics.aggregate([physics.summary(j, FPS) for j in joints_gen]),
                             "ground_truth": physics.aggregate([physics.summary(j, FPS) for j in joints_gt])}
    if cfg.react:  # B's continuity at the token seams a stream has (offline output measured at the same places)
        fpt = model.frames_per_token
        reference = float(np.percentile(np.concatenate([seams.velocity_jumps(j[1]) for j in joints_gt]), 95))
        shared["seams"] = {"generated": seams.seam_summary([j[1] for j in joints_gen], fpt, reference),
                           "ground_truth": seams.seam_summary([j[1] for j in joints_gt], fpt, reference)}

    outs = []
    for evaluator in evaluators:
        e_text = embed_texts(evaluator, texts)
        e_gt, e_gen = embed_motions(evaluator, gt), embed_motions(evaluator, gen)
        out: dict = {"replication": r}
        out["ground_truth"] = distribution_row(e_text, e_gt, cfg, r, None)
        out["generated"] = distribution_row(e_text, e_gen, cfg, r, e_gt)
        half = np.random.default_rng(derive_seed(cfg.seed, r, 13)).permutation(n)
        out["gt_halves"] = {"FID": R.fid(e_gt[half[: n // 2]], e_gt[half[n // 2:]]) if n >= 4 else float("nan")}
        if mm_repeats:
            e_mm = embed_motions(evaluator, mm).reshape(len(mm_idx), mm_repeats, -1)
            out["generated"]["MultiModality"] = R.multimodality(
                e_mm, np.random.default_rng(derive_seed(cfg.seed, r, 14)), _pairs(mm_repeats, cfg.mm_pairs))
        outs.append({**out, **shared})
    seconds = time.time() - t0
    return [{**out, "seconds": seconds} for out in outs]


# ---------------------------------------------------------------------------------------------------- protocol
def open_test_set(data_root: str | os.PathLike, cfg: EvalConfig):
    from intermask.data.interhuman import InterHumanDataset

    dataset = InterHumanDataset(data_root, cfg.split, normalizer=None, max_frames=cfg.max_frames, mirror=False,
                                seed=cfg.seed, swap=True)
    n = len(dataset)
    if cfg.max_clips and cfg.max_clips < n:
        indices = sorted(np.random.default_rng(derive_seed(cfg.seed, 4)).permutation(n)[:cfg.max_clips].tolist())
    else:
        indices = list(range(n))
    if len(indices) < cfg.batch_size:
        raise InterMaskError(f"R-precision needs at least one full batch of {cfg.batch_size} clips; the {cfg.split} "
                             f"split of {data_root} gives {len(indices)}. Lower --batch-size or use more clips.")
    return dataset, indices


def evaluate(model, evaluator, data_root: str | os.PathLike, cfg: EvalConfig, settings: SamplingSettings,
             progress: Progress | None = None, info: dict | None = None) -> dict:
    """Run the protocol; returns the results dict (see :func:`summarize` for its layout)."""
    return evaluate_scored(model, [evaluator], data_root, cfg, settings, progress, [info or {}])[0]


def evaluate_scored(model, evaluators: list, data_root: str | os.PathLike, cfg: EvalConfig,
                    settings: SamplingSettings, progress: Progress | None = None,
                    infos: list[dict] | None = None) -> list[dict]:
    """The protocol's generations scored by several evaluators at the cost of one run: one results dict per
    evaluator (``infos[i]`` merged into the i-th protocol); control and physics are the same in all."""
    if not evaluators:
        raise InterMaskError("evaluate_scored needs at least one evaluator.")
    if cfg.replications < 1:
        raise InterMaskError(f"--replications must be at least 1; got {cfg.replications}.")
    if cfg.batch_size < 3:
        raise InterMaskError(f"--batch-size must be at least 3 (R-precision reports top-3); got {cfg.batch_size}.")
    if cfg.stream and (not cfg.react or cfg.refine):
        raise InterMaskError("--stream evaluates streamed reaction: use it with --react and without --refine "
                             "(refinement needs the whole clip).")
    if cfg.gen_batch < 1 or cfg.mm_clips < 0 or cfg.mm_repeats < 0:
        raise InterMaskError("--gen-batch must be at least 1 and --mm-clips/--mm-repeats must not be negative.")
    dataset, indices = open_test_set(data_root, cfg)
    reps = [replication_scored(model, evaluators, dataset, indices, cfg, settings, r, progress)
            for r in range(cfg.replications)]
    protocol = {**asdict(cfg), "data_root": str(data_root), "clips": len(indices),
                "settings": settings.as_dict(),
                "mode": ("streamed reaction" if cfg.stream else "reaction") if cfg.react else "text-to-motion",
                "stream_settings": StreamSettings().as_dict() if cfg.stream else None,
                "react_time_steps": settings.for_reaction().time_steps if cfg.react else None,
                "multimodality_scaling": R.REPORTED_MULTIMODALITY,
                "multimodality_scale": R.MULTIMODALITY_SCALES[R.REPORTED_MULTIMODALITY],
                "diversity_pairs_used": _pairs(len(indices), cfg.diversity_pairs),
                "mm_pairs_used": _pairs(cfg.mm_repeats, cfg.mm_pairs) if cfg.mm_repeats >= 2 else 0}
    infos = infos or [{} for _ in evaluators]
    return [summarize([rep[i] for rep in reps], {**protocol, **infos[i]}) for i in range(len(evaluators))]


def _ci(values: list[float]) -> dict:
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return {"mean": None, "ci95": None, "n": 0}
    mean, ci = R.mean_ci(v)
    return {"mean": mean, "ci95": ci, "n": len(v)}


def summarize(reps: list[dict], protocol: dict) -> dict:
    """{"protocol", "rows": {name: {metric: {mean, ci95, n}}}, "control": {who: {attr: {mean, ci95, correct,
    total}}}, "physics": {who: {metric: {mean, ci95}}}, "seconds_per_replication", "replications": [...]}."""
    gen_name = "reaction" if protocol.get("react") else "generated"
    rows = {}
    for key, name in (("ground_truth", "ground_truth"), ("gt_halves", "ground_truth_halves"), ("generated", gen_name)):
        metrics = [k for k in RETRIEVAL_COLUMNS if any(k in rep[key] for rep in reps)]
        rows[name] = {k: _ci([rep[key][k] for rep in reps if k in rep[key]]) for k in metrics}
    result = {"protocol": protocol, "rows": rows}
    if any("control" in rep for rep in reps):
        result["control"] = {}
        for who in ("ground_truth", "generated"):
            attrs = [a for a in control.ATTRIBUTES if any(a in rep.get("control", {}).get(who, {}) for rep in reps)]
            table = {}
            for a in attrs:
                counts = [rep["control"][who][a] for rep in reps if a in rep.get("control", {}).get(who, {})]
                table[a] = {**_ci([c / t for c, t in counts]), "correct": sum(c for c, _ in counts),
                            "total": sum(t for _, t in counts)}
            result["control"][gen_name if who == "generated" else who] = table
    if any("control_by_category" in rep for rep in reps):  # counts summed over the replications
        by_cat: dict = {}
        for rep in reps:
            for cat, scores in rep.get("control_by_category", {}).items():
                for a, (c, t) in scores.items():
                    cell = by_cat.setdefault(cat, {}).setdefault(a, {"correct": 0, "total": 0})
                    cell["correct"] += c
                    cell["total"] += t
        result["control_by_category"] = {cat: {a: scores[a] for a in control.ATTRIBUTES if a in scores}
                                         for cat, scores in sorted(by_cat.items())}
    if any("physics" in rep for rep in reps):
        result["physics"] = {(gen_name if who == "generated" else who): {
            k: _ci([rep["physics"][who][k] for rep in reps if "physics" in rep])
            for k in reps[0]["physics"][who]} for who in ("ground_truth", "generated")}
    if any("seams" in rep for rep in reps):
        result["seams"] = {(gen_name if who == "generated" else who): {
            k: _ci([rep["seams"][who][k] for rep in reps if "seams" in rep])
            for k in reps[0]["seams"][who]} for who in ("ground_truth", "generated")}
    secs = [rep["seconds"] for rep in reps]
    result["seconds_per_replication"] = float(np.mean(secs))
    result["replications"] = reps
    return _clean(result)


def _clean(x):
    """JSON-safe: numpy scalars to Python, NaN/Inf to None, tuples to lists."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def write_json(result: dict, path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------------------------------- tables
_HEAD = {"R_precision_top1": "R@1 ↑", "R_precision_top2": "R@2 ↑", "R_precision_top3": "R@3 ↑", "FID": "FID ↓",
         "MM_Dist": "MM Dist ↓", "Diversity": "Diversity →", "MultiModality": "MModality ↑"}
_ROW_NAMES = {"ground_truth": "Ground truth", "ground_truth_halves": "GT half vs GT half",
              "generated": "Generated", "reaction": "Reaction (A given)"}
_PHYS = {"foot_skate_mps": "foot skate m/s", "ground_penetration_m": "ground pen. m",
         "ground_penetration_frac": "ground pen. frames", "interpenetration_m": "body overlap m",
         "interpenetration_frac": "overlap frames", "acceleration_mps2": "accel. m/s²", "jerk_mps3": "jerk m/s³",
         "bone_length_drift": "bone drift"}


def _cell(m: dict | None, digits: int = 3, percent: bool = False) -> str:
    if not m or m.get("mean") is None:
        return "–"
    k = 100.0 if percent else 1.0
    return f"{m['mean'] * k:.{1 if percent else digits}f} ± {m['ci95'] * k:.{1 if percent else digits}f}"


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]


def format_markdown(result: dict) -> str:
    """Markdown tables: retrieval/distribution metrics, control accuracy (%), physics."""
    p = result["protocol"]
    lines = [f"Mode: {p['mode']}{', refined' if p.get('refine') else ', raw output'}; {p['clips']} clips of the {p['split']} split of {p['data_root']}; "
             f"{p['replications']} replication(s), mean ± 95% CI; R-precision and MM Dist within batches of "
             f"{p['batch_size']}; multimodality scaled as {p['multimodality_scaling']} "
             f"(×{p['multimodality_scale']:g}); {result['seconds_per_replication']:.1f} s per replication."
             + (f" Evaluator `{p['evaluator']}`, rotation floor {evaluator_floor(result):g}°."
                if "evaluator_config" in p else ""), ""]
    rows = [[_ROW_NAMES.get(name, name)] + [_cell(metrics.get(k)) for k in RETRIEVAL_COLUMNS]
            for name, metrics in result["rows"].items()]
    lines += _table(["Method"] + [_HEAD[k] for k in RETRIEVAL_COLUMNS], rows)
    if result.get("control"):
        attrs = [a for a in control.ATTRIBUTES if any(a in t for t in result["control"].values())]
        rows = [[_ROW_NAMES.get(who, who)] + [_cell(t.get(a), percent=True) for a in attrs]
                for who, t in result["control"].items()]
        any_table = next(iter(result["control"].values()))
        lines += ["", "Control accuracy (%, per attribute; applicable clips per replication: "
                  + ", ".join(f"{a} {any_table[a]['total'] // max(p['replications'], 1)}" for a in attrs
                              if a in any_table) + ")", ""]
        lines += _table(["Method"] + attrs, rows)
    if result.get("control_by_category"):
        who = "reaction" if p.get("react") else "generated"
        lines += ["", f"Control by action ({_ROW_NAMES[who].lower()}; correct/applicable over all replications)", ""]
        lines += control_by_category_markdown(result["control_by_category"]).splitlines()
    if result.get("physics"):
        keys = [k for k in _PHYS if any(k in t for t in result["physics"].values())]
        rows = [[_ROW_NAMES.get(who, who)] + [_cell(t.get(k), digits=4) for k in keys]
                for who, t in result["physics"].items()]
        lines += ["", "Physical plausibility (mean over clips and both persons)", ""]
        lines += _table(["Method"] + [_PHYS[k] for k in keys], rows)
    if result.get("seams"):
        lines += ["", SEAM_TITLE, ""]
        lines += _table(["Method"] + list(_SEAMS.values()),
                        [[_ROW_NAMES.get(who, who)] + _seam_cells(t) for who, t in result["seams"].items()])
    return "\n".join(lines) + "\n"


def control_by_category_markdown(by_cat: dict) -> str:
    """A result's ``control_by_category`` as a table of correct/applicable counts, one row per action."""
    attrs = [a for a in control.ATTRIBUTES if any(a in t for t in by_cat.values())]
    return "\n".join(_table(["Action"] + attrs, [[cat] + [f"{t[a]['correct']}/{t[a]['total']}" if a in t else "–"
                                                          for a in attrs] for cat, t in by_cat.items()])) + "\n"


SEAM_TITLE = ("Continuity of person B at token seams (every 4 frames; velocity jump in m/frame², "
              "`intermask/metrics/seams.py`)")
_SEAMS = {"seam_median": "seam median", "seam_p95": "seam 95%", "inside_median": "between seams median",
          "seams_over_gt_p95": "seams above GT's 95% jump"}


def _seam_cells(t: dict) -> list[str]:
    return [_cell(t.get(k), percent=k == "seams_over_gt_p95", digits=4) for k in _SEAMS]


# ---------------------------------------------------------------------------------------------------- comparison
def _model_row(result: dict) -> str:
    """The model's row name in a result's ``rows``, ``control`` and ``physics``: generated or reaction."""
    return "reaction" if result["protocol"].get("react") else "generated"


def evaluator_floor(result: dict) -> float:
    """The rotation floor (degrees) of the evaluator behind a result; files made before the floor existed were
    scored without one."""
    return float(result["protocol"].get("evaluator_config", {}).get("rotation_floor_deg", 0.0))


def comparison_markdown(named: list[tuple[str, dict]]) -> str:
    """One set of tables for several results: the README's results. Retrieval and distribution figures are the
    evaluator's, so there is one such table per evaluator (its ground-truth rows from its first result); control
    and physics are not, so they have one table, where a second evaluator's file of the same run (the same
    command) adds no row."""
    first = named[0][1]
    groups: dict[float, list[tuple[str, dict]]] = {}
    for name, r in named:
        groups.setdefault(evaluator_floor(r), []).append((name, r))
    lines: list[str] = []
    for floor, members in groups.items():
        if len(groups) > 1:
            lines += ([""] if lines else []) + [
                f"Evaluator with a {floor:g}° rotation floor" if floor else
                "Evaluator without a rotation floor (every result made before the floor existed)", ""]
        head = members[0][1]
        gt, halves = head["rows"]["ground_truth"], head["rows"].get("ground_truth_halves", {})
        lines += _table(["Model"] + [_HEAD[k] for k in RETRIEVAL_COLUMNS],
                        [["Ground truth"] + [_cell(gt.get(k)) for k in RETRIEVAL_COLUMNS],
                         ["GT half vs GT half"] + [_cell(halves.get(k)) for k in RETRIEVAL_COLUMNS]]
                        + [[name] + [_cell(r["rows"][_model_row(r)].get(k)) for k in RETRIEVAL_COLUMNS]
                           for name, r in members])
    runs, seen = [], set()
    for name, r in named:
        if r.get("command") not in seen:
            runs.append((name, r))
        if r.get("command"):
            seen.add(r["command"])
    named = runs
    if all(r.get("control") for _, r in named):
        attrs = [a for a in control.ATTRIBUTES if a in first["control"]["ground_truth"]]
        per_rep = max(first["protocol"]["replications"], 1)
        lines += ["", "Control accuracy (%; applicable clips per replication: " + ", ".join(
            f"{a} {first['control']['ground_truth'][a]['total'] // per_rep}" for a in attrs) + ")", ""]
        lines += _table(["Model"] + list(attrs),
                        [["Ground truth"] + [_cell(first["control"]["ground_truth"].get(a), percent=True)
                                             for a in attrs]]
                        + [[name] + [_cell(r["control"][_model_row(r)].get(a), percent=True) for a in attrs]
                           for name, r in named])
    if all(r.get("physics") for _, r in named):
        keys = [k for k in _PHYS if k in first["physics"]["ground_truth"]]
        lines += ["", "Physical plausibility (mean over clips and both persons)", ""]
        lines += _table(["Model"] + [_PHYS[k] for k in keys],
                        [["Ground truth"] + [_cell(first["physics"]["ground_truth"].get(k), digits=4) for k in keys]]
                        + [[name] + [_cell(r["physics"][_model_row(r)].get(k), digits=4) for k in keys]
                           for name, r in named])
    if all(r.get("seams") for _, r in named):
        lines += ["", SEAM_TITLE, ""]
        lines += _table(["Model"] + list(_SEAMS.values()),
                        [["Ground truth"] + _seam_cells(first["seams"]["ground_truth"])]
                        + [[name] + _seam_cells(r["seams"][_model_row(r)]) for name, r in named])
    return "\n".join(lines) + "\n"


# Physics metrics whose ground truth is ~0: "within 20%" is read as an absolute allowance instead.
_PHYS_FLOOR = {"foot_skate_mps": 0.005, "ground_penetration_m": 0.005, "ground_penetration_frac": 0.01,
               "interpenetration_m": 0.005, "interpenetration_frac": 0.02, "bone_length_drift": 0.005}


# How target_report's lines for the evaluator's targets begin (control and physics read joints, not the evaluator).
RETRIEVAL_TARGETS = ("R@3", "MM Dist", "FID")


def target_report(main: dict, baseline: dict | None = None) -> list[str]:
    """The bundled-model targets, each as "met"/"missed by ..." for ``main`` (and against ``baseline``)."""
    row = main["rows"][_model_row(main)]
    gt, halves = main["rows"]["ground_truth"], main["rows"].get("ground_truth_halves", {})
    out = []
    r3, g3 = row["R_precision_top3"]["mean"], gt["R_precision_top3"]["mean"]
    out.append(f"R@3 within 0.05 of ground truth: {r3:.3f} vs {g3:.3f} — "
               + ("met" if g3 - r3 <= 0.05 else f"missed by {g3 - r3 - 0.05:.3f}"))
    if row.get("MM_Dist", {}).get("mean") is not None and gt.get("MM_Dist", {}).get("mean") is not None:
        mm, gmm = row["MM_Dist"]["mean"], gt["MM_Dist"]["mean"]
        out.append(f"MM Dist within 10% of ground truth: {mm:.3f} vs {gmm:.3f} — "
                   + ("met" if abs(mm - gmm) <= 0.1 * gmm else f"missed ({abs(mm - gmm) / gmm:.0%} off)"))
    if "FID" in halves and row.get("FID", {}).get("mean") is not None:
        fid, limit = row["FID"]["mean"], 3 * halves["FID"]["mean"]
        out.append(f"FID below 3× the GT-half FID: {fid:.1f} vs {limit:.1f} — "
                   + ("met" if fid < limit else f"missed ({fid / limit:.2f}× the limit)"))
    if main.get("control"):
        who = _model_row(main)
        base = (baseline or {}).get("control", {}).get(_model_row(baseline) if baseline else "", {})
        for a, m in main["control"][who].items():
            if m.get("mean") is None:
                continue
            verdict = "met" if m["mean"] >= 0.9 else f"missed by {90 - 100 * m['mean']:.1f} points"
            if base.get(a, {}).get("mean") is not None:
                delta = 100 * (m["mean"] - base[a]["mean"])
                verdict += f"; {delta:+.1f} points vs baseline"
            out.append(f"control {a} ≥ 90%: {100 * m['mean']:.1f}% — {verdict}")
    if main.get("physics"):
        who = _model_row(main)
        for k, m in main["physics"][who].items():
            g = main["physics"]["ground_truth"].get(k, {}).get("mean")
            if m.get("mean") is None or g is None:
                continue
            allowed = max(0.2 * abs(g), _PHYS_FLOOR.get(k, 0.0))
            gap = abs(m["mean"] - g)
            if gap <= allowed:
                verdict = "met"
            elif abs(g) > _PHYS_FLOOR.get(k, 0.0):
                verdict = f"missed ({gap / abs(g):.0%} off)"
            else:
                verdict = f"missed (ground truth ≈ 0, allowance {allowed:g})"
            out.append(f"physics {k} within 20% of ground truth: {m['mean']:.4g} vs {g:.4g} — {verdict}")
    return out
