"""`python -m intermask results`: the comparison tables and the target check, from `eval --out` files.

Prints Markdown; with ``--out results/README.md`` it writes the whole results page instead (the README links to
it), so no number in the documentation is ever typed by hand.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

EVAL = "`python -m intermask eval`"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="NAME=FILE",
                        help="result files of `python -m intermask eval --out`, each optionally named "
                             "(e.g. 'Word cross-attention=results/intermask.json'); the first gives the "
                             "ground-truth rows and is checked against the targets")
    parser.add_argument("--baseline", default=None,
                        help="the result file that control accuracy is compared with (the AdaLN-only model)")
    parser.add_argument("--reconstruction", default=None,
                        help="a `bench/vq_reconstruction.py --out` file to add as the VQ-VAE table")
    parser.add_argument("--ceiling", default=None,
                        help="a `bench/vq_ceiling.py --out` file: the metrics of VQ reconstructions, the ceiling")
    parser.add_argument("--paraphrase", nargs="*", default=[], metavar="NAME=FILE",
                        help="`python -m intermask.paraphrase --out` files: control accuracy on reworded prompts")
    parser.add_argument("--out", default=None, help="write the results page (Markdown) here instead of printing")


def _load(path: str, made_by: str, *keys: str) -> dict:
    from intermask.errors import InterMaskError

    try:
        result = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InterMaskError(f"{path} is not a readable JSON result file ({exc}).") from None
    missing = [k for k in keys if k not in result]
    if missing:
        raise InterMaskError(f"{path} is not a result of {made_by} (no {'/'.join(missing)}).")
    return result


def reconstruction_markdown(result: dict) -> str:
    lines = [f"Reconstruction of {result['windows']} windows of the {result['split']} split by "
             f"`{result['vq']}`:", "",
             "| | MPJPE | root position | pose (root-relative) |", "|---|---|---|---|"]
    for name, label in (("quantised", "quantised"), ("continuous", "encoder → decoder, no codebook")):
        r = result[name]
        lines.append(f"| {label} | {r['mpjpe_m']:.3f} m | {r['root_m']:.3f} m | {r['pose_m']:.3f} m |")
    return "\n".join(lines) + "\n"


_CEILING_PHYSICS = (("foot_skate_mps", "foot skate (m/s)"), ("jerk_mps3", "jerk (m/s³)"),
                    ("bone_length_drift", "bone drift"), ("ground_penetration_frac", "ground penetration (frames)"))


def ceiling_markdown(result: dict) -> str:
    """The evaluation's metrics on VQ reconstructions next to the ground truth's: what a perfect transformer gets."""
    rows, control, phys = result["rows"], result["control"], result["physics"]
    attrs = [a for a in control["ground_truth"] if a in control["reconstruction"]]
    head = ["", "R@3", "FID", "MM Dist"] + [f"{a} %" for a in attrs] + [label for _, label in _CEILING_PHYSICS]
    lines = [f"`{result['vq']}` encodes and decodes {result['clips']} {result['split']} clips (both persons, whole "
             f"clips; MPJPE {result['mpjpe_m']:.3f} m), scored like generated motion"
             + (f" by the evaluator `{result['evaluator']}`:" if result.get("evaluator") else ":"), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for who, label in (("ground_truth", "Ground truth"), ("reconstruction", "VQ reconstruction")):
        r = rows[who]
        cells = [label, f"{r['R_precision_top3']:.3f}", f"{r['FID']:.1f}" if "FID" in r else "–", f"{r['MM_Dist']:.3f}"]
        cells += [f"{100 * control[who][a]['accuracy']:.1f}" for a in attrs]
        cells += [f"{phys[who][k]:.3g}" for k, _ in _CEILING_PHYSICS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def paraphrase_markdown(named: list[tuple[str, dict]]) -> str:
    """Control accuracy (%) per attribute on the paraphrase prompts, one row per model."""
    attrs = sorted({a for _, r in named for a in r["control"]},
                   key=lambda a: ("actor", "side", "limb", "contact", "count", "direction").index(a))
    first = named[0][1]
    lines = [f"{first['prompts']} hand-written prompts (`intermask/paraphrase.py`), {first['samples']} samples each; "
             "control accuracy, % (correct / checked):", "",
             "| Model | " + " | ".join(attrs) + " |", "|" + "---|" * (len(attrs) + 1)]
    for name, r in named:
        cells = [f"{100 * r['control'][a]['accuracy']:.1f} ({r['control'][a]['correct']}/{r['control'][a]['total']})"
                 if a in r["control"] else "–" for a in attrs]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _named(items: list[str], made_by: str, *keys: str) -> list[tuple[str, dict]]:
    out = []
    for item in items:
        name, _, path = item.rpartition("=") if "=" in item else (Path(item).stem, "", item)
        out.append((name, _load(path, made_by, *keys)))
    return out


def _protocol(result: dict) -> str:
    p = result["protocol"]
    s = p.get("settings", {})
    return (f"{p.get('clips', '?')} {p.get('split', 'test')} clips of `{p.get('data_root', '?')}`, "
            f"{p.get('replications', '?')} replications, R-precision and MM Dist within batches of "
            f"{p.get('batch_size', '?')}, multimodality over {p.get('mm_clips', '?')} clips × "
            f"{p.get('mm_repeats', '?')}; sampling " + ", ".join(f"{k} {v}" for k, v in s.items()) + ".")


def page(named: list[tuple[str, dict]], targets: list[str], reconstruction: dict | None, command: str,
         ceiling: dict | None = None, paraphrase: list[tuple[str, dict]] | None = None) -> str:
    """The results page: how it was made, the tables, the target check and the inputs' own commands."""
    from intermask.evaluation import comparison_markdown, control_by_category_markdown

    out = ["# Results", "",
           f"Generated by `{command}` from the JSON files in this directory; regenerate it rather than editing it.",
           "Mean ± 95% CI over replications. Protocol: " + _protocol(named[0][1]), "",
           "## Text to interaction and reaction", "", comparison_markdown(named).rstrip(), "",
           f"## Targets ({named[0][0]})", ""]
    out += [f"- {line}" for line in targets] + [""]
    if named[0][1].get("control_by_category"):
        out += [f"## Control by action ({named[0][0]})", "", "Correct/applicable over all replications: which actions "
                "lose which attribute.", "", control_by_category_markdown(named[0][1]["control_by_category"])]
    if paraphrase:
        out += ["## Prompts worded unlike the training templates", "", paraphrase_markdown(paraphrase)]
    if ceiling is not None:
        out += ["## The VQ-VAE's ceiling", "", ceiling_markdown(ceiling)]
    if reconstruction is not None:
        out += ["## VQ-VAE reconstruction", "", reconstruction_markdown(reconstruction)]
    inputs = [(name, r.get("command")) for name, r in named]
    inputs += [(f"Paraphrases, {name}", r.get("command")) for name, r in paraphrase or []]
    if ceiling is not None:
        inputs.append(("VQ-VAE ceiling", ceiling.get("command")))
    if reconstruction is not None:
        inputs.append(("VQ-VAE reconstruction", reconstruction.get("command")))
    out += ["## Commands that made the inputs", ""] + [f"- {name}: `{cmd}`" for name, cmd in inputs if cmd] + [""]
    return "\n".join(out)


def with_other_evaluators(named: list[tuple[str, dict]], targets: list[str]) -> list[str]:
    """The first result's target check, its retrieval lines followed by the same lines for every other listed file
    of the same run (the same command: the same generations, scored by another evaluator), each naming its
    evaluator."""
    from intermask.evaluation import RETRIEVAL_TARGETS, target_report

    first = named[0][1]

    def scored(lines: list[str], result: dict) -> list[str]:
        evaluator = result["protocol"].get("evaluator")
        return [f"{line} (evaluator `{evaluator}`)" if evaluator and line.startswith(RETRIEVAL_TARGETS) else line
                for line in lines]

    out = scored(targets, first)
    others = [r for _, r in named[1:] if first.get("command") and r.get("command") == first["command"]]
    at = max((i + 1 for i, line in enumerate(out) if line.startswith(RETRIEVAL_TARGETS)), default=0)
    extra = [line for r in others for line in scored(target_report(r), r) if line.startswith(RETRIEVAL_TARGETS)]
    return out[:at] + extra + out[at:]


def _command(args: argparse.Namespace) -> str:
    """The command line that regenerates the page (what the page says it was made by)."""
    import shlex

    parts = ["python -m intermask results", *map(shlex.quote, args.files)]
    for flag in ("baseline", "reconstruction", "ceiling"):
        if getattr(args, flag):
            parts += [f"--{flag}", shlex.quote(getattr(args, flag))]
    if args.paraphrase:
        parts += ["--paraphrase", *map(shlex.quote, args.paraphrase)]
    if args.out:
        parts += ["--out", shlex.quote(args.out)]
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
    from intermask.atomic import atomic_path
    from intermask.evaluation import comparison_markdown, control_by_category_markdown, target_report

    named = _named(args.files, EVAL, "rows", "protocol")
    paraphrase = _named(args.paraphrase, "`python -m intermask.paraphrase`", "control", "prompts")
    ceiling = _load(args.ceiling, "`bench/vq_ceiling.py`", "rows", "control", "physics") if args.ceiling else None
    baseline = _load(args.baseline, EVAL, "rows", "protocol") if args.baseline else None
    targets = with_other_evaluators(named, target_report(named[0][1], baseline))
    reconstruction = (_load(args.reconstruction, "`bench/vq_reconstruction.py`", "quantised", "continuous")
                      if args.reconstruction else None)
    if args.out:
        with atomic_path(args.out) as tmp:
            tmp.write_text(page(named, targets, reconstruction, _command(args), ceiling, paraphrase))
        print(f"wrote {args.out}")
        return 0
    print(comparison_markdown(named))
    print(f"Targets ({named[0][0]}):")
    for line in targets:
        print(f"- {line}")
    if named[0][1].get("control_by_category"):
        print(f"\nControl by action ({named[0][0]}):")
        print(control_by_category_markdown(named[0][1]["control_by_category"]))
    if paraphrase:
        print()
        print(paraphrase_markdown(paraphrase))
    if ceiling is not None:
        print()
        print(ceiling_markdown(ceiling))
    if reconstruction is not None:
        print()
        print(reconstruction_markdown(reconstruction))
    return 0
