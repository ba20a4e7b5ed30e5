"""How much one word of the prompt moves the model: minimal pairs through the text encoder and the transformer.

    python bench/text_sensitivity.py [--checkpoint DIR] [--out results/text_sensitivity.json]

For pairs of prompts that differ in one word ("right" / "left", "hands" / "feet", ...) it reports the cosine
similarity of the encoder's sentence vectors, of the word features and of the static (embedding-table) word
vectors at the differing token, and the KL
divergence between the transformer's code distributions for the two prompts on a fully masked token map (the
first decoding step), per spatial group. A pair the model should tell apart but whose KL is small next to that
of a pair of different actions is a word the conditioning does not carry.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from result_file import publish  # noqa: E402  (bench/result_file.py)

PAIRS = [
    ("Two persons shake hands with their right hands.", "Two persons shake hands with their left hands."),
    ("One person kicks the other with the right leg.", "One person kicks the other with the left leg."),
    ("One person waves at the other with the right hand.", "One person waves at the other with the left hand."),
    ("Two persons shake hands with their right hands.", "Two persons hug each other."),
]


def kl(p: torch.Tensor, q: torch.Tensor) -> float:
    return float((p * (p.clamp_min(1e-9).log() - q.clamp_min(1e-9).log())).sum(-1).mean())


@torch.no_grad()
def measure(model, a: str, b: str, time_tokens: int = 30) -> dict:
    fa, fb = model.text_features([a]), model.text_features([b])
    wa, wb = fa.words[0][fa.mask[0]], fb.words[0][fb.mask[0]]
    word_cos = static_cos = None
    if wa.shape == wb.shape:  # same token count: the pair differs in one word piece
        word_cos = float(torch.nn.functional.cosine_similarity(wa, wb, dim=-1).min())
        sa, sb = fa.static[0][fa.mask[0]], fb.static[0][fb.mask[0]]
        static_cos = float(torch.nn.functional.cosine_similarity(sa, sb, dim=-1).min())
    tr = model.transformer
    ids = torch.full((1, 2, model.groups, time_tokens), tr.mask_id)
    lengths = torch.tensor([time_tokens])
    keep = torch.tensor([False])
    pa = tr(ids, lengths, fa, keep).softmax(-1)
    pb = tr(ids, lengths, fb, keep).softmax(-1)
    return {"a": a, "b": b,
            "sentence_cos": float(torch.nn.functional.cosine_similarity(fa.sentence, fb.sentence).item()),
            "word_cos_min": word_cos, "static_cos_min": static_cos, "kl": kl(pa, pb),
            "kl_per_group": [kl(pa[:, :, g], pb[:, :, g]) for g in range(model.groups)]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=None, help="transformer checkpoint (default: the bundled model)")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()

    from intermask.api import InterMask

    model = InterMask.from_pretrained(args.checkpoint)
    pairs = [measure(model, a, b) for a, b in PAIRS]
    publish({"checkpoint": str(args.checkpoint or "bundled"), "pairs": pairs}, args.out)


if __name__ == "__main__":
    main()
