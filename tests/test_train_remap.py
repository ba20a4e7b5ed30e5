"""train/remap.py: a transformer carried over to a VQ whose codes were re-indexed predicts what it predicted."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from intermask.config import TransformerConfig  # noqa: E402
from intermask.errors import InterMaskError  # noqa: E402
from intermask.models.transformer import InterMTransformer  # noqa: E402
from intermask.text.base import ToyTextEncoder  # noqa: E402
from train.remap import code_correspondence, remap_state  # noqa: E402

CODES = 12
ENC = ToyTextEncoder(dim=16, max_words=8)


def _model() -> InterMTransformer:
    torch.manual_seed(0)
    cfg = TransformerConfig(latent_dim=32, n_heads=2, n_layers=1, ff_size=64, dropout=0.0, attn_dropout=0.0,
                            token_emb_dim=16, text_head_layers=1, text_head_heads=2, text_head_ff=64)
    return InterMTransformer(cfg, CODES, ENC.dim).eval()


def test_a_pure_reindexing_is_undone_exactly():
    rng = np.random.default_rng(0)
    old = rng.integers(0, CODES, size=(10, 400))
    perm = rng.permutation(CODES)  # the new VQ calls old code j by the id perm[j]
    new = perm[old]
    p = code_correspondence(old, new, CODES)
    assert torch.equal(p, torch.eye(CODES)[np.argsort(perm)])

    model = _model()
    moved = _model()
    moved.load_state_dict(remap_state(model.state_dict(), p))
    ids_old = torch.from_numpy(old[:, :8].reshape(2, 1, 5, 8)).expand(2, 2, 5, 8).clone()
    ids_old[0, 1, 2, 3] = model.mask_id  # the special ids keep their rows
    ids_new = torch.from_numpy(perm)[ids_old.clamp(max=CODES - 1)]
    ids_new[0, 1, 2, 3] = model.mask_id
    text = ENC.encode(["two people shake hands"] * 2)
    lengths, drop = torch.tensor([8, 6]), torch.zeros(2, dtype=torch.bool)
    with torch.no_grad():
        before = model(ids_old, lengths, text, drop)
        after = moved(ids_new, lengths, text, drop)
    # the score the new model gives code perm[j] is the score the old one gave code j
    assert torch.allclose(after[..., perm], before, atol=1e-5)


def test_a_split_code_averages_its_sources_and_an_unseen_code_keeps_its_row():
    old = np.array([0, 0, 1, 1, 2, 2])
    new = np.array([5, 5, 5, 5, 3, 3])  # new code 5 covers old 0 and 1 equally; code 3 is old 2
    p = code_correspondence(old, new, 6)
    assert torch.allclose(p[5, :2], torch.tensor([0.5, 0.5])) and p[3, 2] == 1
    assert p[4, 4] == 1  # never used: nothing better is known than its own row
    with pytest.raises(InterMaskError, match="same clips"):
        code_correspondence(old, new[:4], 6)


def test_the_command_writes_a_checkpoint_that_init_from_can_read(tmp_path):
    import dataclasses

    from safetensors.numpy import save_file
    from safetensors.torch import load_file

    from intermask import config as C
    from intermask.checkpoint import save_checkpoint
    from intermask.motion.features import FEATURE_DIM
    from intermask.motion.normalize import Normalizer
    from train import remap

    model = _model()
    cfg = dataclasses.replace(C.tiny(), transformer=model.cfg, vq=dataclasses.replace(C.tiny().vq, nb_code=CODES))
    save_checkpoint(tmp_path / "t", model, cfg, "transformer", Normalizer(np.zeros(FEATURE_DIM), np.ones(FEATURE_DIM)),
                    text_dim=ENC.dim)
    rng = np.random.default_rng(1)
    old = rng.integers(0, CODES, size=(10, 50)).astype(np.int16)
    offsets = np.array([0, 20], dtype=np.int64)
    save_file({"codes": old, "offsets": offsets}, str(tmp_path / "old.safetensors"))
    save_file({"codes": (CODES - 1 - old).astype(np.int16), "offsets": offsets}, str(tmp_path / "new.safetensors"))
    args = ["--transformer", str(tmp_path / "t"), "--old-tokens", str(tmp_path / "old.safetensors"),
            "--new-tokens", str(tmp_path / "new.safetensors")]
    assert remap.main([*args, "--out", str(tmp_path / "r")]) == 0
    before, after = load_file(str(tmp_path / "t" / "model.safetensors")), \
        load_file(str(tmp_path / "r" / "model.safetensors"))
    assert torch.equal(after["head_out.weight"], before["head_out.weight"].flip(0))
    assert (tmp_path / "r" / "config.json").read_text() == (tmp_path / "t" / "config.json").read_text()
    # token caches of different clips are refused with a sentence
    save_file({"codes": old, "offsets": offsets + 1}, str(tmp_path / "other.safetensors"))
    args[-1] = str(tmp_path / "other.safetensors")
    assert remap.main([*args, "--out", str(tmp_path / "bad")]) == 2
