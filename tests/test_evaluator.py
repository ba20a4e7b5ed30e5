"""The contrastive text-motion evaluator: shapes, invariances, files, and a short training run that learns."""
import json

import numpy as np
import pytest
import torch

from intermask.errors import InterMaskError
from intermask.models.evaluator import (EvaluatorConfig, EvaluatorWithText, TextMotionEvaluator, clip_loss,
                                        load_evaluator, save_evaluator)
from intermask.text import ToyTextEncoder
from intermask.text.cache import TextFeatureCache

TINY = EvaluatorConfig(latent_dim=32, n_heads=2, ff_size=64, motion_layers=1, text_layers=1, out_dim=16,
                       dropout=0.0, patch=4, max_frames=60, text_encoder="toy", text_dim=32, max_words=8)
TEXTS = ["two people shake hands", "one person pushes the other", "they hug each other", "both wave slowly"]


class StandInDataset(torch.utils.data.Dataset):
    """Items in the InterHumanDataset format: each text has its own motion signature (which dims oscillate, at
    which frequency), plus noise, random lengths and random person order."""

    def __init__(self, n: int, seed: int, frames: int = 48):
        rng = np.random.default_rng(seed)
        self.items = []
        for i in range(n):
            c = i % len(TEXTS)
            length = int(rng.integers(24, frames + 1))
            t = np.arange(frames) / 30.0
            motion = rng.normal(scale=0.3, size=(2, frames, 262)).astype(np.float32)
            motion[c % 2, :, 20 * c:20 * c + 20] += np.sin(2 * np.pi * (0.5 + c) * t)[:, None]
            motion[:, length:] = 0.0
            if rng.random() < 0.5:
                motion = motion[::-1].copy()
            self.items.append({"name": f"{i:04d}", "text": TEXTS[c], "motion": motion, "length": length, "label": {}})

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    return TextMotionEvaluator(EvaluatorConfig(**{**TINY.__dict__, **kw})).eval()


def test_motion_embedding_ignores_person_order_and_padding():
    model = _model()
    x = torch.randn(3, 40, 2, 262)
    lengths = torch.tensor([40, 33, 21])
    with torch.no_grad():
        e = model.encode_motion(x, lengths)
        swapped = model.encode_motion(x.flip(2), lengths)
        padded = model.encode_motion(torch.cat([x, torch.randn(3, 12, 2, 262)], 1), lengths)
        junk_after_end = x.clone()
        junk_after_end[2, 21:] = 99.0
        e_junk = model.encode_motion(junk_after_end, lengths)
    assert e.shape == (3, 16)
    torch.testing.assert_close(swapped, e, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(padded, e, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(e_junk, e, atol=1e-5, rtol=1e-5)
    # Norm = latent_scale, as in the original.
    torch.testing.assert_close(e.norm(dim=-1), torch.full((3,), TINY.init_scale))
    # The non-symmetric variant does depend on the order.
    asym = _model(symmetric=False)
    with torch.no_grad():
        assert not torch.allclose(asym.encode_motion(x, lengths), asym.encode_motion(x.flip(2), lengths))


def test_bad_shapes_are_user_errors():
    model = _model()
    with pytest.raises(InterMaskError, match=r"\(B, T, 2, 262\)"):
        model.encode_motion(torch.zeros(2, 40, 262), torch.tensor([40, 40]))
    with pytest.raises(InterMaskError, match="32-d"):
        model.encode_text(torch.zeros(2, 8, 384), torch.ones(2, 8, dtype=torch.bool))


def test_clip_loss_and_shared_texts():
    e = torch.nn.functional.normalize(torch.randn(6, 16), dim=-1) * 10.0
    loss, acc = clip_loss(e, e)
    assert acc == 1.0 and loss < 0.1
    # Two samples with the same text: either text is a correct match for either motion once ids say so.
    t = e.clone()
    t[1] = t[0]
    ids = torch.tensor([0, 0, 1, 2, 3, 4])
    assert clip_loss(t, t)[1] == pytest.approx(5 / 6)  # without ids, row 1's tie goes to text 0: a "miss"
    assert clip_loss(t, t, ids)[1] == 1.0


def test_save_load_roundtrip(tmp_path):
    model = _model(seed=3)
    model.set_input_stats(torch.rand(258), torch.rand(258) + 0.5)
    save_evaluator(model, tmp_path / "ev", card="# test card\n")
    again = load_evaluator(tmp_path / "ev")
    x, lengths = torch.randn(2, 30, 2, 262), torch.tensor([30, 17])
    with torch.no_grad():
        torch.testing.assert_close(again.encode_motion(x, lengths), model.encode_motion(x, lengths))
    assert json.loads((tmp_path / "ev" / "config.json").read_text())["config"]["text_encoder"] == "toy"
    with pytest.raises(InterMaskError, match="train_evaluator"):
        load_evaluator(tmp_path / "missing")


def test_training_learns_to_match_text_and_motion(tmp_path):
    from train.train_evaluator import TrainEvaluatorConfig, train

    cfg = TrainEvaluatorConfig(out=str(tmp_path / "ev"), max_steps=30, batch_size=16, lr=2e-3, warmup_steps=5,
                               val_every=30, val_batch=8, log_every=10, stats_items=64, progress=False, seed=1)
    rng_before = torch.get_rng_state()
    summary = train(cfg, EvaluatorConfig(**{**TINY.__dict__}), StandInDataset(128, seed=0),
                    StandInDataset(32, seed=1), text_encoder=ToyTextEncoder(dim=32, max_words=8))
    assert torch.equal(torch.get_rng_state(), rng_before)  # global RNG untouched
    log = [json.loads(line) for line in (tmp_path / "ev" / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert losses[-1] < losses[0]
    # 4 descriptions, so a batch of 8 holds each about twice and a text cannot tell its own motion from the
    # other one of its kind: the best possible is ≈0.5 at top-1 and ≈1 at top-2; chance is 1/8 and 2/8.
    assert summary["R_precision_top1"] > 0.3 and summary["R_precision_top2"] > 0.6, summary
    for name in ("config.json", "model.safetensors", "card.md", "text_cache.safetensors"):
        assert (tmp_path / "ev" / name).is_file()

    # The checkpoint plus its recorded text encoder embed strings and motions that still match.
    ev = EvaluatorWithText(load_evaluator(tmp_path / "ev"), TextFeatureCache(ToyTextEncoder(dim=32, max_words=8)))
    val = StandInDataset(8, seed=5)
    motion = torch.stack([torch.as_tensor(it["motion"]).transpose(0, 1) for it in val.items])
    lengths = torch.tensor([it["length"] for it in val.items])
    e_m = ev.embed_motions(motion, lengths)
    e_t = ev.embed_texts(TEXTS)
    nearest = torch.cdist(e_m, e_t).argmin(1)
    assert (nearest == torch.arange(8) % 4).float().mean() >= 0.75


def test_command_line_on_an_interhuman_tree(tmp_path):
    from tests.fixtures import write_interhuman_tree
    from train.train_evaluator import main

    write_interhuman_tree(tmp_path / "data", n_clips=12, frames=(30, 50))
    out = tmp_path / "ev"
    code = main(["--data-root", str(tmp_path / "data"), "--out", str(out), "--max-steps", "3", "--batch-size", "4",
                 "--seed", "0", "--val-batch", "3", "--no-progress", "--eval-text-encoder", "toy",
                 "--eval-latent-dim", "32", "--eval-n-heads", "2", "--eval-ff-size", "64", "--eval-motion-layers", "1",
                 "--eval-text-layers", "1", "--eval-out-dim", "16"])
    assert code == 0
    model = load_evaluator(out)
    assert model.cfg.text_encoder == "toy" and model.cfg.latent_dim == 32
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 3 and "R_precision_top1" in log[-1]
    assert main(["--out", str(tmp_path / "x"), "--no-progress"]) == 2  # no --data-root: a message, not a trace


def test_a_rotation_floor_keeps_rotations_the_data_barely_moves_from_weighing_like_metres():
    still = torch.full((258,), 1e-4)  # a channel the training data never moves, in every slot
    plain, floored = _model(), _model(rotation_floor_deg=2.0)
    plain.set_input_stats(torch.zeros(258), still)
    floored.set_input_stats(torch.zeros(258), still)
    rot = slice(132, 258)
    assert torch.all(plain.in_std[rot] == 1e-3)  # the old guard only: 0.06° of turn is one unit
    torch.testing.assert_close(floored.in_std[rot], torch.full((126,), np.radians(2.0), dtype=torch.float32))
    torch.testing.assert_close(floored.in_std[:132], plain.in_std[:132])  # positions and velocities as they were
    # Half a degree of turn, which no one sees, is a quarter of a unit under the floor and over eight without.
    turn = torch.zeros(1, 8, 2, 262)
    turn[..., 140] = np.radians(0.5)
    moved = lambda m: ((turn[..., :258] - m.in_mean) / m.in_std).abs().max().item()  # noqa: E731
    assert moved(floored) < 0.26 and moved(plain) > 8.0
    # Checkpoints from before the floor load without it, as they were trained.
    assert EvaluatorConfig().rotation_floor_deg == 0.0
