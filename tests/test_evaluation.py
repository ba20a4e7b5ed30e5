"""The evaluation protocol and `python -m intermask eval`, on 20 short InterSynth clips with a tiny untrained
generator (random codebook) and a tiny untrained evaluator, both reading the toy text encoder."""
import dataclasses
import json

import numpy as np
import pytest
import torch

from intermask import config as C
from intermask.checkpoint import save_checkpoint
from intermask.cli import main
from intermask.data.interhuman import compute_stats
from intermask.data.intersynth.writer import write_dataset
from intermask.evaluation import (EvalConfig, control_checks, evaluate, format_markdown, generate_set,
                                  load_generator)
from intermask.metrics import control
from intermask.models.evaluator import (EvaluatorConfig, EvaluatorWithText, TextMotionEvaluator, load_evaluator,
                                        save_evaluator)
from intermask.models.transformer import InterMTransformer
from intermask.models.vqvae import VQVAE
from intermask.settings import SamplingSettings

RETRIEVAL = ("R_precision_top1", "R_precision_top2", "R_precision_top3", "FID", "MM_Dist", "Diversity")


def _tiny_config() -> C.ModelConfig:
    cfg = C.tiny()
    return dataclasses.replace(
        cfg, vq=dataclasses.replace(cfg.vq, nb_code=64, code_dim=16, width=32, depth=1),
        transformer=dataclasses.replace(cfg.transformer, latent_dim=32, n_heads=2, n_layers=1, ff_size=64,
                                        token_emb_dim=16, text_head_heads=2, text_head_ff=64),
        text=dataclasses.replace(cfg.text, encoder="toy", max_words=16))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(data root with all 20 clips in train and test, generator checkpoint dir, evaluator dir)."""
    base = tmp_path_factory.mktemp("eval")
    root = base / "synth"
    write_dataset(root, num=20, seed=5, workers=1, progress=False)
    ids = sorted(p.stem for p in (root / "motions_processed" / "person1").glob("*.npy"))
    for split in ("train", "test"):
        (root / "split" / f"{split}.txt").write_text("".join(i + "\n" for i in ids))
    cfg = _tiny_config()
    norm = compute_stats(root, "train")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        vq = VQVAE(cfg.vq, norm.mean, norm.std)
        for name, buf in vq.named_buffers():  # an untrained codebook is all zeros: every code would decode alike
            if name.endswith("codebook"):
                buf.normal_()
        transformer = InterMTransformer(cfg.transformer, cfg.vq.nb_code, 32)
        evaluator = TextMotionEvaluator(EvaluatorConfig(latent_dim=32, n_heads=2, ff_size=64, motion_layers=1,
                                                        text_layers=1, out_dim=16, dropout=0.0, text_encoder="toy",
                                                        text_dim=32, max_words=16))
    save_checkpoint(base / "vq", vq, cfg, "vq", norm)
    save_checkpoint(base / "transformer", transformer, cfg, "transformer", norm, text_dim=32, vq_dir=base / "vq")
    save_evaluator(evaluator, base / "evaluator")
    return root, base / "transformer", base / "evaluator"


ARGS = ["--replications", "2", "--batch-size", "4", "--max-clips", "8", "--mm-clips", "2", "--mm-repeats", "3",
        "--time-steps", "2", "--gen-batch", "8", "--no-progress"]


def test_eval_command_writes_every_metric_with_ci_and_gt_rows(setup, tmp_path, capsys):
    root, ckpt, ev = setup
    out = tmp_path / "results.json"
    assert main(["eval", "--checkpoint", str(ckpt), "--evaluator", str(ev), "--data-root", str(root),
                 "--out", str(out), *ARGS]) == 0
    table = capsys.readouterr().out
    assert "| Ground truth |" in table and "| GT half vs GT half |" in table and "| Generated |" in table
    res = json.loads(out.read_text())
    rows = res["rows"]
    for metric in RETRIEVAL + ("MultiModality",):
        m = rows["generated"][metric]
        assert m["n"] == 2 and np.isfinite(m["mean"]) and m["ci95"] >= 0, metric
    for metric in ("R_precision_top1", "R_precision_top3", "MM_Dist", "Diversity"):
        assert np.isfinite(rows["ground_truth"][metric]["mean"])
    assert "FID" not in rows["ground_truth"] and rows["ground_truth_halves"]["FID"]["mean"] >= 0
    assert rows["generated"]["MultiModality"]["mean"] > 0  # different seeds give different motions
    r1, r3 = rows["generated"]["R_precision_top1"]["mean"], rows["generated"]["R_precision_top3"]["mean"]
    assert 0 <= r1 <= r3 <= 1
    p = res["protocol"]
    assert (p["batch_size"], p["clips"], p["replications"], p["mode"]) == (4, 8, 2, "text-to-motion")
    assert p["multimodality_scaling"] == "intermask" and p["mm_pairs_used"] == 3
    assert len(res["replications"]) == 2 and res["seconds_per_replication"] > 0
    # Control accuracy from the InterSynth labels: the checks' own test is that the ground truth passes them.
    gt = res["control"]["ground_truth"]
    assert {"actor", "side", "limb"} <= set(gt)
    for attr, a in gt.items():
        assert a["total"] >= 2 and a["mean"] >= 0.9, (attr, a)
    assert set(res["control"]["generated"]) == set(gt)
    for who in ("ground_truth", "generated"):
        phys = res["physics"][who]
        assert set(phys) >= {"foot_skate_mps", "ground_penetration_m", "interpenetration_m", "jerk_mps3",
                             "bone_length_drift"}
    assert res["physics"]["ground_truth"]["bone_length_drift"]["mean"] < 1e-3  # FK data: rigid bones
    assert res["command"].startswith("python -m intermask eval --checkpoint")

    # The README's comparison tables and its target check are made from such files.
    assert main(["results", f"Tiny model={out}", "--baseline", str(out)]) == 0
    report = capsys.readouterr().out
    assert "| Tiny model |" in report and "| Ground truth |" in report
    assert "Control by action (Tiny model)" in report  # the first model's breakdown by action
    assert "R@3 within 0.05 of ground truth" in report and "+0.0 points vs baseline" in report


def test_target_check_reads_each_target_against_the_ground_truth():
    from intermask.evaluation import target_report

    def row(r3, mm):
        return {"R_precision_top3": {"mean": r3}, "MM_Dist": {"mean": mm}}

    result = {"protocol": {"react": False}, "rows": {"ground_truth": row(0.99, 1.75), "generated": row(0.95, 1.90)}}
    assert target_report(result) == ["R@3 within 0.05 of ground truth: 0.950 vs 0.990 — met",
                                      "MM Dist within 10% of ground truth: 1.900 vs 1.750 — met"]
    result["rows"]["generated"] = row(0.90, 2.53)
    assert target_report(result) == ["R@3 within 0.05 of ground truth: 0.900 vs 0.990 — missed by 0.040",
                                      "MM Dist within 10% of ground truth: 2.530 vs 1.750 — missed (45% off)"]


class GroundTruthGenerator:
    """Stands in for a model that reproduces the test set exactly: looks the GT up by (text, length)."""

    def __init__(self, dataset):
        self.dataset = dataset

    def sample_features(self, texts, frames, seed, settings, progress=None):
        table = {}
        for i in range(len(self.dataset)):
            it = self.dataset[i]
            table[(it["text"], it["length"])] = it["motion"][:, :it["length"]]
        return [table[(t, f)] for t, f in zip(texts, frames)]


def test_a_perfect_generator_scores_like_the_ground_truth(setup, monkeypatch):
    """GT and generated motion go through one path: identical motions give identical rows and FID ≈ 0."""
    import intermask.evaluation as E

    root, _, ev = setup
    evaluator = EvaluatorWithText.from_dir(ev)
    cfg = EvalConfig(replications=2, batch_size=4, max_clips=0, mm_clips=2, mm_repeats=3, seed=3)
    opened = {}
    real_open = E.open_test_set

    def spy(data_root, c):
        opened["ds"], idx = real_open(data_root, c)
        return opened["ds"], idx

    monkeypatch.setattr(E, "open_test_set", spy)

    class Lazy:  # the data set exists only once evaluate() opened it
        def sample_features(self, *a, **k):
            return GroundTruthGenerator(opened["ds"]).sample_features(*a, **k)

    res = evaluate(Lazy(), evaluator, root, cfg, SamplingSettings())
    gt, gen = res["rows"]["ground_truth"], res["rows"]["generated"]
    for k in ("R_precision_top1", "R_precision_top2", "R_precision_top3", "MM_Dist", "Diversity"):
        assert gen[k]["mean"] == pytest.approx(gt[k]["mean"]), k
    assert abs(gen["FID"]["mean"]) < 1e-4
    assert gen["MultiModality"]["mean"] == pytest.approx(0.0, abs=1e-6)
    assert res["control"]["generated"] == res["control"]["ground_truth"]
    assert res["physics"]["generated"] == res["physics"]["ground_truth"]
    # The breakdown by action adds up to the totals, and a perfect generator gets every action right.
    by_cat = res["control_by_category"]
    for attr, total in res["control"]["generated"].items():
        assert sum(t[attr]["total"] for t in by_cat.values() if attr in t) == total["total"], attr
    assert all(t["correct"] == t["total"] for scores in by_cat.values() for t in scores.values())
    page = format_markdown(res)
    assert "Ground truth" in page and "Control by action (generated;" in page
    first = next(iter(by_cat))
    assert f"| {first} |" in page


def test_generation_is_deterministic_and_at_ground_truth_lengths(setup):
    root, ckpt, _ = setup
    model = load_generator(ckpt)
    rng = np.random.default_rng(0)
    gt = [rng.normal(size=(2, f, 262)).astype(np.float32) for f in (37, 61, 40)]
    texts = ["two people hug.", "one person waves with the left hand twice.", "they shake hands."]
    s = SamplingSettings(time_steps=2)
    a = generate_set(model, texts, gt, 7, s, gen_batch=2)
    b = generate_set(model, texts, gt, 7, s, gen_batch=2)
    c = generate_set(model, texts, gt, 8, s, gen_batch=2)
    assert [x.shape for x in a] == [(2, 37, 262), (2, 61, 262), (2, 40, 262)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_reaction_keeps_person_a_as_given(setup):
    _, ckpt, _ = setup
    model = load_generator(ckpt)
    rng = np.random.default_rng(1)
    partners = [rng.normal(size=(f, 262)).astype(np.float32) for f in (30, 45)]
    out = model.react_features(partners, ["one person pushes the other.", "they hug."], 0,
                               SamplingSettings(time_steps=4).for_reaction())
    for a, pair in zip(partners, out):
        assert pair.shape == (2, a.shape[0], 262)
        np.testing.assert_array_equal(pair[0], a)
        assert np.isfinite(pair[1]).all() and not np.allclose(pair[1], a)


def test_refine_scores_refined_output_of_the_same_generations_and_keeps_a_given_partner(setup):
    from intermask.motion.features import features_to_joints
    from intermask.motion.refine import refine_features
    from intermask.skeleton import bone_lengths

    _, ckpt, _ = setup
    model = load_generator(ckpt)
    rng = np.random.default_rng(2)
    gt = [rng.normal(size=(2, f, 262)).astype(np.float32) for f in (37, 45)]
    texts = ["two people hug.", "they shake hands."]
    s = SamplingSettings(time_steps=2)
    raw = generate_set(model, texts, gt, 7, s, gen_batch=2)
    refined = generate_set(model, texts, gt, 7, s, gen_batch=2, refine=True)
    for r, f in zip(raw, refined):
        np.testing.assert_array_equal(f, refine_features(r))  # the same generation, then the API's refinement
        lengths = bone_lengths(features_to_joints(f))
        assert (lengths.max(axis=1) - lengths.min(axis=1)).max() < 1e-3
    reacted = generate_set(model, texts, gt, 7, s, gen_batch=2, react=True, refine=True)
    for g, f in zip(gt, reacted):
        assert f[0].tobytes() == g[0].tobytes()  # person A stays the ground truth's, bit for bit


def test_several_evaluators_score_the_same_generations(setup, tmp_path, capsys):
    """Two evaluators in one run: each writes the file one run with it alone writes; control and physics agree."""
    root, ckpt, ev = setup
    other = tmp_path / "floored"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        floored = TextMotionEvaluator(dataclasses.replace(load_evaluator(ev).cfg,
                                                          rotation_floor_deg=2.0))
    save_evaluator(floored, other)
    both = [tmp_path / "a.json", tmp_path / "b.json"]
    assert main(["eval", "--checkpoint", str(ckpt), "--evaluator", str(ev), str(other), "--data-root", str(root),
                 "--out", *map(str, both), *ARGS]) == 0
    alone = tmp_path / "alone.json"
    assert main(["eval", "--checkpoint", str(ckpt), "--evaluator", str(other), "--data-root", str(root),
                 "--out", str(alone), *ARGS]) == 0
    a, b, c = (json.loads(p.read_text()) for p in (*both, alone))
    assert a["control"] == b["control"] and a["physics"] == b["physics"]
    assert a["rows"]["generated"]["FID"] != b["rows"]["generated"]["FID"]  # two evaluators, two embeddings
    assert b["rows"] == c["rows"] and b["control"] == c["control"]  # as if scored alone
    assert b["protocol"]["evaluator"].endswith("floored") and a["protocol"]["evaluator"].endswith("evaluator")
    assert b["protocol"]["evaluator_config"]["rotation_floor_deg"] == 2.0
    # On the results page each evaluator gets its retrieval table and ground-truth rows; the run's control and
    # physics appear once. A file from before the floor existed (no evaluator_config) counts as unfloored.
    older = json.loads(json.dumps(a))
    del older["protocol"]["evaluator_config"]
    older["command"] = "an earlier run"
    (tmp_path / "old.json").write_text(json.dumps(older))
    assert "rotation floor 2°" in capsys.readouterr().out  # each table names the evaluator behind it
    assert main(["results", f"Now={both[0]}", f"Now, floored={both[1]}", f"Before={tmp_path / 'old.json'}"]) == 0
    report = capsys.readouterr().out
    assert "Evaluator with a 2° rotation floor" in report and "Evaluator without a rotation floor" in report
    assert report.count("| Ground truth |") == 2 + 2  # two retrieval tables, one control and one physics table
    assert "| Now, floored |" in report.split("Control accuracy")[0]
    assert "| Now, floored |" not in report.split("Control accuracy")[1]  # the same generations as "Now"
    # The target check gives the retrieval targets by both evaluators of that run, not by the earlier file's.
    assert report.count("R@3 within 0.05 of ground truth") == 2 and "floored`)" in report
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(ckpt), "--evaluator", str(ev), str(other), "--data-root", str(root),
                 "--out", str(alone), *ARGS]) == 2
    assert "one --out file per --evaluator" in capsys.readouterr().err


def test_eval_react_mode_reports_a_reaction_row(setup, tmp_path, capsys):
    root, ckpt, ev = setup
    out = tmp_path / "react.json"
    assert main(["eval", "--checkpoint", str(ckpt), "--evaluator", str(ev), "--data-root", str(root), "--react",
                 "--no-physics", "--out", str(out), *ARGS]) == 0
    res = json.loads(out.read_text())
    assert res["protocol"]["mode"] == "reaction" and res["protocol"]["react_time_steps"] == 1
    assert set(res["rows"]) == {"ground_truth", "ground_truth_halves", "reaction"}
    assert "physics" not in res and "reaction" in res["control"]
    assert "| Reaction (A given) |" in capsys.readouterr().out


def test_eval_react_stream_scores_the_streamed_reaction_and_its_seams(setup, tmp_path, capsys):
    root, ckpt, ev = setup
    out = tmp_path / "stream.json"
    assert main(["eval", "--checkpoint", str(ckpt), "--evaluator", str(ev), "--data-root", str(root), "--react",
                 "--stream", "--no-physics", "--out", str(out), *ARGS]) == 0
    res = json.loads(out.read_text())
    assert res["protocol"]["mode"] == "streamed reaction" and res["protocol"]["stream_settings"]["context_tokens"]
    assert set(res["rows"]) == {"ground_truth", "ground_truth_halves", "reaction"}
    seams = res["seams"]["reaction"]
    assert set(seams) == {"seam_median", "seam_p95", "inside_median", "seams_over_gt_p95"}
    assert 0 <= seams["seams_over_gt_p95"]["mean"] <= 1
    assert "Continuity of person B at token seams" in capsys.readouterr().out
    assert main(["eval", "--checkpoint", str(ckpt), "--evaluator", str(ev), "--data-root", str(root), "--stream",
                 "--out", str(out), *ARGS]) == 2  # streaming is a way of reacting
    assert "use it with --react" in capsys.readouterr().err


def test_control_checks_do_not_depend_on_person_order():
    """Which slot is "first" is not learnable under random person swaps; the checks must not care."""
    from intermask.data.intersynth.compose import generate_clip

    clip = generate_clip(11, category="wave")
    label = clip.label
    assert label["actor"] in (0, 1)
    straight = control_checks(label, clip.joints)
    assert straight == control_checks(label, clip.joints[::-1])
    assert straight["actor"] and straight["side"]
    # Both persons doing the one-actor action is wrong: "which person acts" fails.
    actor = clip.joints[label["actor"]]
    twin = np.stack([actor, actor + np.array([1.5, 0.0, 0.0])])
    assert control_checks(label, twin)["actor"] is False
    # ...and the original (order-aware) check agrees on the unswapped clip.
    assert control.check_actor(label, clip.joints)


def test_too_few_clips_for_one_batch_is_a_user_error(setup, tmp_path, capsys):
    root, ckpt, ev = setup
    code = main(["eval", "--checkpoint", str(ckpt), "--evaluator", str(ev), "--data-root", str(root),
                 "--batch-size", "64", "--replications", "1", "--no-progress", "--out", str(tmp_path / "x.json")])
    assert code == 2
    assert "R-precision needs at least one full batch of 64" in capsys.readouterr().err


def test_results_refuses_files_that_are_not_eval_results(tmp_path, capsys):
    (tmp_path / "other.json").write_text('{"quantised": {}}')
    assert main(["results", str(tmp_path / "other.json")]) == 2
    assert "not a result of `python -m intermask eval`" in capsys.readouterr().err
    assert main(["results", str(tmp_path / "missing.json")]) == 2


def test_eval_flags_are_the_protocol_fields_and_quick_lowers_its_defaults():
    import argparse

    from intermask.commands import eval as eval_command
    from intermask.evaluation import EvalConfig

    parser = argparse.ArgumentParser()
    eval_command.add_arguments(parser)
    full = eval_command.protocol(parser.parse_args(["--data-root", "d"]))
    assert full == EvalConfig()
    quick = eval_command.protocol(parser.parse_args(["--data-root", "d", "--quick", "--batch-size", "8"]))
    assert (quick.replications, quick.max_clips, quick.batch_size, quick.mm_repeats) == (2, 8, 8, 3)
    given = eval_command.protocol(parser.parse_args(["--data-root", "d", "--quick", "--replications", "5", "--react",
                                                     "--no-control", "--max-clips", "128", "--split", "val"]))
    assert (given.replications, given.react, given.control, given.max_clips, given.split) == (5, True, False, 128, "val")
    assert not full.refine  # raw model output unless asked for
    assert eval_command.protocol(parser.parse_args(["--data-root", "d", "--refine"])).refine
