"""Generation time of the paper-size model imported from the official format (issue 14).

    python bench/bench_official.py --checkpoint OUT/intermask [--clip-path DIR] [--repeats 5] [--out FILE]

``OUT/intermask``: an ``import-official`` output (bench/official_parity.py --size paper writes one with random
weights: the cost does not depend on the values). ``--clip-path``: a transformers CLIP ViT-L/14@336px directory;
without it a random one of the same shapes is written to a temporary directory, with the tokenizer merges of
the ``clip`` package (pip install clip-anytorch). Medians of ``--repeats`` runs after one warm-up: a 3 s
interaction from text at the default settings (20 steps, guidance 2: the two passes batched) without the
physical refinement, and the text encoding alone. Refinement is timed only with ``--with-refine``: its cost depends
on the motion, and the motion of random weights is not representative. Model loading is not timed.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402  (bench/machine.py)

TEXT = "two people shake hands with their right hands"


def median_seconds(fn, repeats: int) -> tuple[float, list[float], float]:
    """(median wall seconds, every run's wall seconds, median CPU seconds of this process, all threads).

    CPU time is what a busy machine cannot inflate much: on an idle 2-core machine the wall time lies between
    CPU / 2 (both threads busy throughout) and CPU."""
    fn()  # warm-up
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(times), times, statistics.median(cpu)


def random_vit_l_clip(directory: Path) -> Path:
    import gzip
    import importlib.util

    import torch

    from intermask.official.clip_format import write_transformers_clip

    spec = importlib.util.find_spec("clip")
    if spec is None:
        raise SystemExit("pass --clip-path, or pip install clip-anytorch for the tokenizer merges")
    bpe = Path(spec.origin).parent / "bpe_simple_vocab_16e6.txt.gz"
    merges = gzip.open(bpe).read().decode("utf-8").split("\n")[1:49152 - 256 - 2 + 1]
    gen = torch.Generator().manual_seed(0)
    w, ctx, vocab = 768, 77, 49408

    def r(*shape, std=0.02):
        return torch.randn(shape, generator=gen) * std

    state = {"token_embedding.weight": r(vocab, w), "positional_embedding": r(ctx, w, std=0.01),
             "ln_final.weight": torch.ones(w), "ln_final.bias": torch.zeros(w), "text_projection": r(w, w)}
    for i in range(12):
        p = f"transformer.resblocks.{i}."
        state.update({p + "attn.in_proj_weight": r(3 * w, w), p + "attn.in_proj_bias": torch.zeros(3 * w),
                      p + "attn.out_proj.weight": r(w, w), p + "attn.out_proj.bias": torch.zeros(w),
                      p + "ln_1.weight": torch.ones(w), p + "ln_1.bias": torch.zeros(w),
                      p + "ln_2.weight": torch.ones(w), p + "ln_2.bias": torch.zeros(w),
                      p + "mlp.c_fc.weight": r(4 * w, w), p + "mlp.c_fc.bias": torch.zeros(4 * w),
                      p + "mlp.c_proj.weight": r(w, 4 * w), p + "mlp.c_proj.bias": torch.zeros(w)})
    return write_transformers_clip(directory, state, merges)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--clip-path", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--with-refine", action="store_true", help="also time generation with refinement")
    parser.add_argument("--note", default="", help="a sentence about the machine's load, written with the results")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS-official-generate.md")
    args = parser.parse_args()

    from intermask.api import InterMask
    from intermask.text.clip import CLIPEncoder

    with tempfile.TemporaryDirectory() as tmp:
        clip_dir = args.clip_path or random_vit_l_clip(Path(tmp) / "clip")
        encoder = CLIPEncoder(path=str(clip_dir), max_words=77, official_tokens=True)
        model = InterMask.from_pretrained(args.checkpoint, text_encoder=encoder)
        counts = {"VQ": sum(p.numel() for p in model.vq.parameters()),
                  "transformer": sum(p.numel() for p in model.transformer.parameters()),
                  "CLIP text": sum(p.numel() for p in encoder._model.parameters())}
        rows = []
        runs = [("generate 3 s (text encoding, 20 steps, VQ decoding; refinement off)",
                 lambda: model.generate(TEXT, seconds=3.0, refine=False)),
                ("text encoding alone (CLIP ViT-L/14 text tower, 77 tokens)", lambda: model.text_features([TEXT]))]
        if args.with_refine:
            runs.append(("generate 3 s with refinement (the default)", lambda: model.generate(TEXT, seconds=3.0)))
        for name, fn in runs:
            med, times, cpu = median_seconds(fn, args.repeats)
            rows.append((name, med, times, cpu))
            print(name, f"{med:.3f}", [round(t, 3) for t in times], f"cpu {cpu:.3f}", flush=True)
    lines = ["# Generation time of the paper-size model (official format, imported)", "",
             f"Machine: {describe()}." + (f" {args.note}" if args.note else ""), "",
             f"Command: `python bench/bench_official.py --checkpoint OUT/intermask --repeats {args.repeats}`, "
             "OUT from `python bench/official_parity.py --size paper` (random weights; time does not depend on "
             "them). Parameters: " + ", ".join(f"{k} {v / 1e6:.2f}M" for k, v in counts.items()) + ". "
             f"Median of {args.repeats} runs after a warm-up; 20 time steps, guidance 2, batch 1, text encoding "
             "included.", "",
             "| request | median wall seconds | all runs | median CPU seconds (both threads) |", "|---|---|---|---|",
             *[f"| {n} | {m:.2f} | {', '.join(f'{t:.2f}' for t in ts)} | {c:.2f} |" for n, m, ts, c in rows], ""]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
