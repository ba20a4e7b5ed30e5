"""Checkpoint directories: bit-identical round trips, metadata, encoder mismatch, atomic replacement."""
import dataclasses
import json

import numpy as np
import pytest
import torch

from intermask import config as C
from intermask.checkpoint import (load_train_state, load_transformer, load_vq, read_config, save_checkpoint)
from intermask.errors import InterMaskError
from intermask.models import keyed_random as kr
from intermask.models.transformer import InterMTransformer
from intermask.models.vqvae import VQVAE
from intermask.motion.normalize import Normalizer
from intermask.text.base import ToyTextEncoder


def _cfg() -> C.ModelConfig:
    cfg = C.tiny()
    return dataclasses.replace(
        cfg, vq=dataclasses.replace(cfg.vq, nb_code=32, code_dim=16, width=16),
        transformer=dataclasses.replace(cfg.transformer, latent_dim=32, n_heads=2, n_layers=1, ff_size=64,
                                        token_emb_dim=16, text_head_heads=2, text_head_ff=64),
        text=dataclasses.replace(cfg.text, encoder="toy"))


def _norm() -> Normalizer:
    rng = np.random.default_rng(0)
    return Normalizer(rng.normal(size=262), rng.uniform(0.5, 2, size=262))


def test_vq_round_trip_is_bit_identical(tmp_path):
    cfg, norm = _cfg(), _norm()
    torch.manual_seed(0)
    vq = VQVAE(cfg.vq, norm.mean, norm.std)
    x = torch.randn(2, 32, 262)
    with kr.scope(kr.sample_keys(0, 0, range(2))):
        vq(x)  # initialise the codebook and EMA statistics (buffers are saved too)
    opt = torch.optim.AdamW(vq.parameters())
    vq.eval()
    save_checkpoint(tmp_path / "vq", vq, cfg, "vq", norm, optimizer=opt, train_state={"step": 5, "best": 1.5})
    loaded, lcfg, lnorm = load_vq(tmp_path / "vq")
    assert lcfg == cfg and np.array_equal(lnorm.mean, norm.mean) and not loaded.training
    assert torch.equal(loaded.quantizer.code_count, vq.quantizer.code_count)
    ids = vq.encode(x)
    assert torch.equal(loaded.encode(x), ids) and torch.equal(loaded.decode(ids), vq.decode(ids))
    opt_state, meta = load_train_state(tmp_path / "vq")
    assert meta["step"] == 5 and opt_state["param_groups"][0]["betas"] == (0.9, 0.999)
    # the config.json of a checkpoint is also a valid --config
    assert C.resolve_model_config(str(tmp_path / "vq")) == cfg
    with pytest.raises(InterMaskError):
        load_transformer(tmp_path / "vq")


def test_transformer_round_trip_and_encoder_check(tmp_path):
    cfg, norm = _cfg(), _norm()
    enc = ToyTextEncoder()
    torch.manual_seed(0)
    model = InterMTransformer(cfg.transformer, cfg.vq.nb_code, enc.dim).eval()
    save_checkpoint(tmp_path / "vq", VQVAE(cfg.vq), cfg, "vq", norm)
    out = save_checkpoint(tmp_path / "runs" / "t2m", model, cfg, "transformer", norm, text_dim=enc.dim,
                          vq_dir=tmp_path / "vq", card="# test card\n")
    meta = json.loads((out / "config.json").read_text())
    assert meta["kind"] == "transformer" and meta["text_encoder"] == "toy" and meta["vq_dir"] == "../../vq"
    assert (out / "card.md").read_text() == "# test card\n" and (out / "stats.npz").exists()
    loaded, lcfg, _, vq_dir = load_transformer(out, text_encoder="toy")
    assert vq_dir == (tmp_path / "vq").resolve()
    ids = torch.randint(0, 32, (2, 2, 5, 6))
    text = enc.encode(["a hug", "a push"])
    drop = torch.tensor([False, True])
    assert torch.equal(loaded(ids, torch.tensor([6, 4]), text, drop), model(ids, torch.tensor([6, 4]), text, drop))
    with pytest.raises(InterMaskError, match="toy"):
        load_transformer(out, text_encoder="minilm")


def test_writes_are_atomic_replacements(tmp_path):
    cfg, norm = _cfg(), _norm()
    a = VQVAE(cfg.vq)
    save_checkpoint(tmp_path / "latest", a, cfg, "vq", norm, card="first")
    save_checkpoint(tmp_path / "latest", a, cfg, "vq", norm, card="second")
    assert (tmp_path / "latest" / "card.md").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest"]  # no temporary or old directories left


def test_missing_or_foreign_directories_are_clear_errors(tmp_path):
    with pytest.raises(InterMaskError, match="no config.json"):
        read_config(tmp_path)
    with pytest.raises(InterMaskError, match="no training state"):
        load_train_state(tmp_path)
