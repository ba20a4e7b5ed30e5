"""Shipping a trained run: `train/bundle.py` copies what loads, points at the bundled VQ, writes card metrics."""
import json

import pytest

from intermask.checkpoint import TRAIN_META, TRAIN_STATE
from tests.fixtures import write_tiny_checkpoint
from train.bundle import main as bundle_main


def test_bundle_copies_a_loadable_checkpoint_with_a_relative_vq(tmp_path):
    run = write_tiny_checkpoint(tmp_path / "run")
    # What the trainer writes into OUT/latest beside the model: the optimiser moments must not ship.
    assert not (run / TRAIN_STATE).exists()
    (run / TRAIN_STATE).write_bytes(b"optimiser moments")
    (run / TRAIN_META).write_text('{"optimizer": {}, "step": 10}')
    bundle_main(["--src", str(run / ".." / "vq"), "--dst", str(tmp_path / "ship" / "vq")])
    bundle_main(["--src", str(run), "--dst", str(tmp_path / "ship" / "t2m"), "--vq", str(tmp_path / "ship" / "vq")])

    shipped = tmp_path / "ship" / "t2m"
    assert not (shipped / TRAIN_STATE).exists() and not (shipped / TRAIN_META).exists()
    assert not [p.name for p in shipped.parent.iterdir() if p.name.startswith(".")]  # no temporary left behind
    assert json.loads((shipped / "config.json").read_text())["vq_dir"] == "../vq"

    from intermask.api import InterMask

    clip = InterMask.from_pretrained(shipped).generate("two people wave", seconds=1, seed=0)[0]
    assert clip.joints.shape[0] == 2


def test_a_copied_checkpoint_that_lost_its_vq_says_how_to_copy_it(tmp_path):
    import shutil

    from intermask.api import InterMask
    from intermask.errors import InterMaskError

    run = write_tiny_checkpoint(tmp_path / "run")
    copy = tmp_path / "elsewhere" / "mine"
    shutil.copytree(run, copy)  # its vq_dir, "../vq", now points at nothing
    with pytest.raises(InterMaskError, match="bundle.py") as err:
        InterMask.from_pretrained(copy)
    assert str((tmp_path / "elsewhere" / "vq").resolve()) in str(err.value)

    bundle_main(["--src", str(run), "--dst", str(copy), "--vq", str(tmp_path / "run" / "vq")])
    assert InterMask.from_pretrained(copy).generate("two people wave", seconds=1, seed=0)[0].joints.shape[0] == 2


def test_a_half_precision_bundle_stores_learned_weights_in_float16_and_generates_what_the_full_one_does(tmp_path):
    import numpy as np
    import torch
    from safetensors.torch import load_file

    from intermask.api import InterMask

    run = write_tiny_checkpoint(tmp_path / "run")
    for half, name in ((False, "full"), (True, "half")):
        flag = ["--half"] if half else []
        bundle_main(["--src", str(run / ".." / "vq"), "--dst", str(tmp_path / name / "vq"), *flag])
        bundle_main(["--src", str(run), "--dst", str(tmp_path / name / "t2m"), "--vq", str(tmp_path / name / "vq"),
                     *flag])
    for part in ("vq", "t2m"):
        full = load_file(str(tmp_path / "full" / part / "model.safetensors"))
        half = load_file(str(tmp_path / "half" / part / "model.safetensors"))
        assert sum(t.nbytes for t in half.values()) < 0.6 * sum(t.nbytes for t in full.values())
        for key, tensor in half.items():
            assert torch.equal(tensor.float(), full[key].half().float()) or torch.equal(tensor, full[key])
    vq_half = load_file(str(tmp_path / "half" / "vq" / "model.safetensors"))
    assert vq_half["quantizer.codebook"].dtype == torch.float32  # a buffer: the code search sees it exactly
    assert vq_half["encoder.stem.0.proj.bias"].dtype == torch.float16

    models = {name: InterMask.from_pretrained(tmp_path / name / "t2m")
              for name in ("full", "half")}
    assert next(models["half"].transformer.parameters()).dtype == torch.float32  # computes in float32
    # Sampling can flip near-tied tokens, so compare what the models compute on the same input instead.
    full, half = models["full"], models["half"]
    ids = torch.randint(0, full.vq.nb_code, (1, 2, full.groups, 8), generator=torch.Generator().manual_seed(0))
    decoded = {name: m.decode_tokens(ids) for name, m in models.items()}
    assert np.abs(decoded["full"] - decoded["half"]).max() < 1e-2 * np.abs(decoded["full"]).max()
    text = full.text_features(["two people wave"])
    logits = {name: m.transformer(ids, torch.tensor([8]), text, torch.zeros(1, dtype=torch.bool))
              for name, m in models.items()}
    assert (logits["full"] - logits["half"]).abs().max() < 1e-2 * logits["full"].abs().max()


def test_card_metrics_come_from_result_files_with_their_command(tmp_path):
    dst = tmp_path / "vq"
    dst.mkdir()
    (dst / "card.md").write_text("# tiny vq checkpoint\n\n## Training\n\n- steps: 10\n\n## Metrics\n\nNot evaluated.\n")
    result = {"vq": "x", "split": "test", "windows": 7, "command": "python bench/vq_reconstruction.py --windows 7",
              "quantised": {"mpjpe_m": 0.1234, "root_m": 0.0567, "pose_m": 0.089},
              "continuous": {"mpjpe_m": 0.1, "root_m": 0.05, "pose_m": 0.07}}
    (tmp_path / "vq.json").write_text(json.dumps(result))

    bundle_main(["--card-only", "--dst", str(dst), "--metrics", str(tmp_path / "vq.json")])
    card = (dst / "card.md").read_text()
    assert card.startswith("# tiny vq checkpoint") and "- steps: 10" in card
    assert "Not evaluated" not in card and card.count("## Metrics") == 1
    assert "| quantised | 0.123 m | 0.057 m | 0.089 m |" in card
    assert "python bench/vq_reconstruction.py --windows 7" in card

    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(SystemExit):
        bundle_main(["--card-only", "--dst", str(dst), "--metrics", str(tmp_path / "other.json")])


def test_a_vq_card_can_show_its_ceiling(tmp_path):
    dst = tmp_path / "vq"
    dst.mkdir()
    (dst / "card.md").write_text("# tiny vq checkpoint\n\n## Metrics\n\nNot evaluated.\n")
    control = {"contact": {"accuracy": 1.0, "correct": 4, "total": 4}}
    physics = {k: 0.0 for k in ("foot_skate_mps", "jerk_mps3", "bone_length_drift", "ground_penetration_frac")}
    ceiling = {"vq": "runs/vq/latest", "split": "test", "clips": 4, "mpjpe_m": 0.0612,
               "command": "python bench/vq_ceiling.py --clips 4",
               "rows": {"ground_truth": {"R_precision_top3": 1.0, "MM_Dist": 1.5},
                        "reconstruction": {"R_precision_top3": 0.75, "MM_Dist": 2.25, "FID": 12.34}},
               "control": {"ground_truth": control,
                           "reconstruction": {"contact": {"accuracy": 0.75, "correct": 3, "total": 4}}},
               "physics": {"ground_truth": physics, "reconstruction": {**physics, "foot_skate_mps": 0.1}}}
    (tmp_path / "ceiling.json").write_text(json.dumps(ceiling))

    bundle_main(["--card-only", "--dst", str(dst), "--metrics", str(tmp_path / "ceiling.json")])
    card = (dst / "card.md").read_text()
    assert "python bench/vq_ceiling.py --clips 4" in card and "MPJPE 0.061 m" in card
    assert "| VQ reconstruction | 0.750 | 12.3 | 2.250 | 75.0 | 0.1 |" in card


def test_bundle_puts_the_probe_learning_curve_in_the_card(tmp_path):
    import json

    run = write_tiny_checkpoint(tmp_path / "run")
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in [
        {"step": 400, "wall": 1200.0}, {"step": 400, "probe_score": 0.5, "probe_side": 0.625, "probe_FID": 151.2}]))
    shipped = tmp_path / "ship"
    assert bundle_main(["--src", str(run), "--dst", str(shipped), "--log", str(log)]) == 0
    card = (shipped / "card.md").read_text()
    assert "## Learning curve" in card and "| 400 | 20 min |" in card and "0.625" in card and "151.2" in card
    # Writing it again replaces the section instead of adding a second one.
    assert bundle_main(["--card-only", "--dst", str(shipped), "--log", str(log)]) == 0
    assert (shipped / "card.md").read_text().count("## Learning curve") == 1


def test_a_vq_bundled_with_velocity_fusion_decodes_through_it(tmp_path):
    import numpy as np
    import torch

    from intermask.api import InterMask
    from intermask.motion.features import fuse_velocities

    run = write_tiny_checkpoint(tmp_path / "run")
    for name, flag in (("plain", ["--velocity-fusion", "0"]), ("fused", ["--velocity-fusion", "16"])):
        bundle_main(["--src", str(run / ".." / "vq"), "--dst", str(tmp_path / name / "vq"), *flag])
        bundle_main(["--src", str(run), "--dst", str(tmp_path / name / "t2m"), "--vq", str(tmp_path / name / "vq")])
    plain, fused = (InterMask.from_pretrained(tmp_path / name / "t2m") for name in ("plain", "fused"))
    assert plain.vq.cfg.velocity_fusion == 0.0 and fused.vq.cfg.velocity_fusion == 16.0
    ids = torch.randint(0, plain.vq.nb_code, (1, 2, plain.groups, 8), generator=torch.Generator().manual_seed(0))
    assert np.allclose(fused.decode_tokens(ids, 30), fuse_velocities(plain.decode_tokens(ids, 30), 16.0), atol=1e-6)
    assert not np.allclose(fused.decode_tokens(ids, 30), plain.decode_tokens(ids, 30), atol=1e-3)
    with pytest.raises(SystemExit, match="VQ-VAE's decoding setting"):
        bundle_main(["--src", str(run), "--dst", str(tmp_path / "bad"), "--velocity-fusion", "16"])
    # A shipped VQ's weight can be changed in place.
    bundle_main(["--dst", str(tmp_path / "plain" / "vq"), "--velocity-fusion", "2"])
    assert InterMask.from_pretrained(tmp_path / "plain" / "t2m").vq.cfg.velocity_fusion == 2.0


def test_an_evaluator_bundles_in_half_precision_with_its_input_statistics_exact(tmp_path):
    import torch
    from safetensors.torch import load_file

    from intermask.models.evaluator import EvaluatorConfig, TextMotionEvaluator, load_evaluator, save_evaluator

    torch.manual_seed(0)
    model = TextMotionEvaluator(EvaluatorConfig(latent_dim=32, n_heads=2, ff_size=64, motion_layers=1, text_layers=1,
                                                out_dim=16, dropout=0.0, text_encoder="toy", text_dim=32,
                                                max_words=8, rotation_floor_deg=2.0))
    model.set_input_stats(torch.randn(258), torch.rand(258) * 0.01)
    save_evaluator(model, tmp_path / "run")
    bundle_main(["--src", str(tmp_path / "run"), "--dst", str(tmp_path / "ev"), "--half"])
    stored = load_file(str(tmp_path / "ev" / "model.safetensors"))
    assert stored["in_std"].dtype == torch.float32 and stored["motion_out.weight"].dtype == torch.float16
    half = load_evaluator(tmp_path / "ev")
    assert half.cfg.rotation_floor_deg == 2.0 and torch.equal(half.in_std, model.in_std)
    motion, lengths = torch.randn(3, 24, 2, 262) * 0.05, torch.tensor([24, 17, 9])
    with torch.no_grad():
        torch.testing.assert_close(half.encode_motion(motion, lengths), model.eval().encode_motion(motion, lengths),
                                   atol=2e-2, rtol=0)
