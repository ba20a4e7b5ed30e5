"""Official-format checkpoints with random weights, imported and checked against the official code (issue 14).

    python bench/official_parity.py --official-repo DIR [--size paper|small] [--work DIR] [--out FILE]

Needs a clone of the official repository and its modules' packages (``pip install torch-geometric einops
positional-encodings clip-anytorch``). The official modules themselves build the checkpoints: a VQ whose codebook
the official quantiser initialises from encoder vectors of a random batch (its training start), a transformer
with every weight random (the official init zeroes every AdaLN gate, which would make the blocks do nothing), both
saved as the official trainers save them, with an ``opt.txt`` of the official option names. Then
``python -m intermask import-official ... --check-against DIR`` runs; its report is printed and written to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402  (bench/machine.py)

SIZES = {"paper": ({}, {}),  # the official defaults
         "small": (dict(nb_code=64, code_dim=32, width=32), dict(latent_dim=48, n_heads=4, n_layers=2, ff_size=64))}


def randomise_(module: torch.nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.startswith("clip_"):
                continue
            if p.ndim >= 2:
                p.copy_(torch.randn(p.shape, generator=gen) / p.shape[-1] ** 0.5)
            elif "norm" in name or name.startswith("clipln"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen) if name.endswith("weight")
                        else 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))


def make_official_checkpoints(repo: Path, work: Path, size: str, seed: int) -> Path:
    from intermask.official import opt_file, parity

    official = parity.load_official(repo)
    vq_sizes, trans_sizes = SIZES[size]
    run = work / "checkpoints" / "interhuman"
    opt_file.write_opt(run / "vq_default" / "opt.txt", opt_file.official_vq_options(**vq_sizes))
    opt_file.write_opt(run / "trans_default" / "opt.txt", opt_file.official_transformer_options(**trans_sizes))
    vq_opt = official.get_opt(str(run / "vq_default" / "opt.txt"), torch.device("cpu"))
    trans_opt = official.get_opt(str(run / "trans_default" / "opt.txt"), torch.device("cpu"))
    torch.manual_seed(seed)
    clip_model = parity.random_clip(official, seed)
    vq, trans = parity.build_official_models(official, vq_opt, trans_opt, clip_model)
    vq.train()
    with torch.no_grad(), parity.cpu_cuda():  # the official quantiser's first training step fills its codebook
        vq(torch.randn(8, 64, 262))
    randomise_(trans, seed + 1)
    counts = {"vq_state_dict": sum(v.numel() for v in vq.state_dict().values()),
              "vq_parameters": sum(p.numel() for p in vq.parameters()),
              "transformer_parameters_wo_clip": sum(p.numel() for p in trans.parameters_wo_clip())}
    for name, entry, model in (("vq_default", "vq_model", vq), ("trans_default", "t2m_transformer", trans)):
        state = {k: v for k, v in model.state_dict().items() if not k.startswith("clip_")}  # as the trainer saves
        (run / name / "model").mkdir(parents=True, exist_ok=True)
        torch.save({entry: state, "ep": 0, "total_it": 0}, run / name / "model" / "best_fid.tar")
    (work / "counts.json").write_text(json.dumps(counts))
    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official-repo", required=True, type=Path)
    parser.add_argument("--size", choices=sorted(SIZES), default="paper")
    parser.add_argument("--work", type=Path, default=Path("/tmp/intermask-official-parity"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--note", default="", help="a sentence about the machine's load, written with the results")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS-official.md")
    args = parser.parse_args()

    work = make_official_checkpoints(args.official_repo, args.work, args.size, args.seed)
    command = [sys.executable, "-m", "intermask", "import-official", "--checkpoints", str(work / "checkpoints"),
               "--stats", str(args.official_repo / "data" / "stats"), "--dataset", "interhuman",
               "--out", str(work / "imported"), "--check-against", str(args.official_repo), "--seed", str(args.seed)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    print(done.stdout, done.stderr, sep="\n")
    counts = json.loads((work / "counts.json").read_text())
    lines = ["# Parity with the official code", "",
             f"Machine: {describe()}." + (f" {args.note}" if args.note else ""), "",
             f"Command: `python bench/official_parity.py --official-repo OFFICIAL_REPO --size {args.size}` (official "
             f"repository at commit {_commit(args.official_repo)}); it runs "
             "`python -m intermask import-official ... --check-against OFFICIAL_REPO`.", "",
             f"Official model sizes ({args.size}): VQ {counts['vq_parameters'] / 1e6:.2f}M parameters "
             f"({counts['vq_state_dict'] / 1e6:.2f}M with the codebook buffer), transformer "
             f"{counts['transformer_parameters_wo_clip'] / 1e6:.2f}M without CLIP.", "",
             "```", done.stdout.strip(), "```", ""]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")
    sys.exit(done.returncode)


def _commit(repo: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (subprocess.CalledProcessError, OSError):
        return "unknown (not a git clone)"


if __name__ == "__main__":
    main()
