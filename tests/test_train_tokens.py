"""Whole-clip token maps for transformer training: what the cache holds, how items and batches are drawn."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixtures import write_interhuman_tree, write_tiny_checkpoint  # noqa: E402
from intermask.checkpoint import load_vq  # noqa: E402
from intermask.data.interhuman import InterHumanDataset, mirror_features, split_ids  # noqa: E402
from intermask.errors import InterMaskError  # noqa: E402
from train import tokens as tk  # noqa: E402
from train.distributed import GlobalBatchPlan  # noqa: E402


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tokens")
    write_interhuman_tree(tmp / "data", n_clips=10, frames=(30, 95), seed=4)
    write_tiny_checkpoint(tmp / "ckpt")
    vq, _, norm = load_vq(tmp / "ckpt" / "vq")
    ds = InterHumanDataset(tmp / "data", "train", None, max_frames=80, mirror=True, swap=False)
    return tmp, vq, norm, ds


def _expected(vq, norm, f1, f2, frames):
    t = (frames - 1) // 4
    x = torch.from_numpy(norm.normalize(np.stack([f1[:4 * t], f2[:4 * t]])).astype(np.float32))
    return vq.encode(x)


def test_cached_codes_are_the_vq_codes_of_the_whole_clip_and_its_mirror(setup):
    tmp, vq, norm, ds = setup
    arrays = tk.encode_split(ds, vq, norm, max_frames=80, progress=False)
    items = tk.TokenSet(ds, arrays, mirror=True, augment=False)
    n = len(ds.ids)
    assert len(items) == 2 * n
    long_clips = 0
    for k in range(n):
        clip = ds.clip(k)
        frames = min(clip.frames, 80)
        long_clips += clip.frames > 80
        want = _expected(vq, norm, clip.f1, clip.f2, frames) if frames == clip.frames else None
        got = items[k]
        assert got["tokens"] == (frames - 1) // 4 and got["codes"].shape == (2, 5, got["tokens"])
        if want is not None:  # clips inside max_frames: exactly the codes of the stored canonical features
            assert torch.equal(got["codes"], want)
            mirrored = _expected(vq, norm, mirror_features(clip.f1), mirror_features(clip.f2), frames)
            assert torch.equal(items[k + n]["codes"], mirrored)
        assert items[k + n]["name"] == ds.ids[k] + "_mirror"
        assert items[k + n]["text"] == ds.descriptions(k + n)[0]
    assert long_clips > 0  # the crop path was exercised too
    # Items of the same (epoch, index) are the same in any process; the slot order is drawn per epoch.
    aug = tk.TokenSet(ds, arrays, seed=1)
    a, b = aug[3], aug[3]
    assert torch.equal(a["codes"], b["codes"]) and a["text"] == b["text"]
    kept = set()
    for epoch in range(12):
        aug.set_epoch(epoch)
        kept.add(bool(torch.equal(aug[3]["codes"], items[3]["codes"])))
    assert kept == {True, False}


def test_ordinal_words_swap_with_the_persons_only_when_asked(setup):
    from intermask.data.person_order import swap_person_order

    assert swap_person_order("The second person waves at the first one.") == "The first person waves at the second one."
    unchanged = "At first, one person waves; then someone bows."
    assert swap_person_order(unchanged) == unchanged

    tmp, vq, norm, ds = setup
    arrays = tk.encode_split(ds, vq, norm, max_frames=80, progress=False)
    stored = tk.TokenSet(ds, arrays, augment=False)[3]
    plain, ordered = tk.TokenSet(ds, arrays, seed=1), tk.TokenSet(ds, arrays, seed=1, person_order_words=True)
    text = "the second person pushes the first person."
    plain.texts = ordered.texts = [[text]] * len(plain)
    swapped_epochs = 0
    for epoch in range(12):
        plain.set_epoch(epoch)
        ordered.set_epoch(epoch)
        a, b = plain[3], ordered[3]
        assert torch.equal(a["codes"], b["codes"])  # the same draws either way
        swapped = not torch.equal(a["codes"], stored["codes"])
        swapped_epochs += swapped
        assert a["text"] == text  # the recipe of the bundled models: the words stay
        assert b["text"] == ("the first person pushes the second person." if swapped else text)
    assert 0 < swapped_epochs < 12


def test_cache_file_is_reused_for_the_same_vq_and_rebuilt_for_another(setup, tmp_path):
    tmp, vq, norm, ds = setup
    path = tmp_path / "tokens_train.safetensors"
    fp = tk.vq_fingerprint(vq)
    first = tk.load_or_build(path, ds, vq, norm, 80, fp, build=True, progress=False)
    stamp = path.stat().st_mtime_ns
    again = tk.load_or_build(path, ds, vq, norm, 80, fp, build=True, progress=False)
    assert path.stat().st_mtime_ns == stamp and np.array_equal(first["codes"], again["codes"])
    # Another VQ (or another crop length): a rank that may not build gets None, rank 0 rebuilds.
    assert tk.load_or_build(path, ds, vq, norm, 80, "0" * 16, build=False) is None
    assert tk.load_or_build(path, ds, vq, norm, 60, fp, build=False) is None
    tk.load_or_build(path, ds, vq, norm, 60, fp, build=True, progress=False)
    assert path.stat().st_mtime_ns != stamp


def test_a_retrained_decoder_keeps_the_token_cache_a_retrained_encoder_does_not(setup):
    import copy

    _, vq, _, _ = setup
    other = copy.deepcopy(vq)
    with torch.no_grad():
        next(other.decoder.parameters()).add_(1.0)
    assert tk.vq_fingerprint(other) == tk.vq_fingerprint(vq)
    with torch.no_grad():
        next(other.encoder.parameters()).add_(1.0)
    assert tk.vq_fingerprint(other) != tk.vq_fingerprint(vq)


def test_processes_that_share_the_tokenising_write_the_file_one_process_writes(setup, tmp_path):
    import threading
    from types import SimpleNamespace

    tmp, vq, norm, ds = setup
    fp = tk.vq_fingerprint(vq)
    alone = tk.load_or_build(tmp_path / "alone.safetensors", ds, vq, norm, 80, fp, build=True, progress=False)
    # Two ranks as two threads (what build_shared needs of a process group: rank, world size, a barrier).
    barrier = threading.Barrier(2)
    ranks = [SimpleNamespace(rank=r, world_size=2, is_main=r == 0, barrier=barrier.wait) for r in range(2)]
    path = tmp_path / "shared.safetensors"
    threads = [threading.Thread(target=tk.build_shared, args=(path, ds, vq, norm, 80, fp, d, False)) for d in ranks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    shared = tk.load_or_build(path, ds, vq, norm, 80, fp, build=False)
    assert shared is not None and shared.keys() == alone.keys()
    assert all(np.array_equal(shared[k], alone[k]) for k in alone)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alone.safetensors", "shared.safetensors"]  # parts gone
    _, chunks = tk.plan_chunks(ds, 80, vq.frames_per_token)
    assert len(chunks) >= 2  # so that both ranks had a share


def test_a_union_copies_the_codes_of_the_clips_an_earlier_cache_holds_and_encodes_only_the_new_ones(setup,
                                                                                                     tmp_path):
    import json
    from types import SimpleNamespace

    from safetensors.numpy import load_file, save_file

    from train.union import union

    tmp, vq, norm, first = setup
    write_interhuman_tree(tmp_path / "b", n_clips=6, frames=(30, 95), seed=5)
    union([tmp / "data", tmp_path / "b"], tmp_path / "union")
    grown = InterHumanDataset(tmp_path / "union", "train", None, max_frames=80, mirror=True, swap=False, cache=False)
    fp = tk.vq_fingerprint(vq)
    donor = tmp_path / "first.safetensors"
    tk.load_or_build(donor, first, vq, norm, 80, fp, build=True, progress=False)
    alone = SimpleNamespace(rank=0, world_size=1, is_main=True, barrier=lambda: None)

    path = tmp_path / "reused.safetensors"
    copied = tk.build_shared(path, grown, vq, norm, 80, fp, alone, progress=False, donors=[donor])
    assert copied == len(first.ids) and len(grown.ids) > copied  # only the second root's clips were encoded
    fresh = tk.load_or_build(tmp_path / "fresh.safetensors", grown, vq, norm, 80, fp, build=True, progress=False)
    reused = tk.load_or_build(path, grown, vq, norm, 80, fp, build=False)
    assert reused is not None and all(np.array_equal(reused[k], fresh[k]) for k in fresh)

    # A cache of another VQ (or crop length) cannot donate, and neither can one that does not list its clips.
    with pytest.raises(InterMaskError, match="another VQ"):
        tk.donated_maps([donor], grown, tk.clip_tokens(grown, 60, 4), fp, 60)
    meta = {k: v for k, v in tk.read_meta(donor).items() if k != "ids"}
    save_file(load_file(str(donor)), str(tmp_path / "old.safetensors"), metadata={"meta": json.dumps(meta)})
    with pytest.raises(InterMaskError, match="clip ids"):
        tk.donated_maps([tmp_path / "old.safetensors"], grown, tk.clip_tokens(grown, 80, 4), fp, 80)
    # (such a cache still serves its own run)
    assert tk.load_or_build(tmp_path / "old.safetensors", first, vq, norm, 80, fp, build=False) is not None


def test_length_buckets_keep_each_item_once_and_batch_similar_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(15, 76, size=500).tolist()
    plain = GlobalBatchPlan(500, 16, 1, 0, seed=3)
    bucketed = GlobalBatchPlan(500, 16, 1, 0, seed=3, lengths=lengths)

    def spread(plan):
        return np.mean([np.ptp([lengths[i] for i in b]) for b in plan.epoch_batches(0)])

    batches = bucketed.epoch_batches(0)
    seen = [i for b in batches for i in b]
    assert len(batches) == 500 // 16 and len(seen) == len(set(seen)) == 31 * 16
    assert spread(bucketed) < 0.5 * spread(plain)
    assert bucketed.epoch_batches(1) != batches  # reshuffled each epoch
    assert [bucketed.padded_length(k) for k in range(len(batches))] == [max(lengths[i] for i in b) for b in batches]
    # Two ranks read the two halves of the same global batches and pad to the same length.
    halves = [GlobalBatchPlan(500, 16, 2, r, seed=3, lengths=lengths) for r in (0, 1)]
    assert [a + b for a, b in zip(*(h.epoch_batches(0) for h in halves))] == batches
    assert halves[1].padded_length(5) == bucketed.padded_length(5)


def _labelled_copy(setup, tmp_path, labels: list[dict]):
    """A copy of the fixture's data whose training clips carry these InterSynth labels (in split order), opened
    as the training split with mirror images."""
    import json
    import shutil

    root = tmp_path / "data"
    shutil.copytree(setup[0] / "data", root)
    (root / "labels").mkdir(exist_ok=True)
    for cid, label in zip(split_ids(root, "train"), labels):
        (root / "labels" / f"{cid}.json").write_text(json.dumps(label))
    return InterHumanDataset(root, "train", None, max_frames=80, mirror=True, swap=False)


def test_actor_first_puts_the_one_actor_in_the_first_slot_unless_the_text_names_an_order(setup, tmp_path):
    _, vq, norm, _ = setup
    # Clip 0 acted by the second file's person, clip 1 by the first's, clip 2 by both.
    ds = _labelled_copy(setup, tmp_path, [{"category": "kick", "actor": actor} for actor in (1, 0, "both")])
    arrays = tk.encode_split(ds, vq, norm, max_frames=80, progress=False)
    stored = tk.TokenSet(ds, arrays, augment=False)
    roles = tk.TokenSet(ds, arrays, seed=1, actor_first=True, person_order_words=True)
    roles.texts = [["one person kicks the other."]] * len(roles)
    n = len(ds.ids)
    draws = {k: set() for k in (0, 1, 2)}
    for epoch in range(12):
        roles.set_epoch(epoch)
        for k in draws:
            for index in (k, k + n):  # the mirror image has the same actor
                draws[k].add(bool(torch.equal(roles[index]["codes"], stored[index]["codes"].flip(0))))
    assert draws == {0: {True}, 1: {False}, 2: {True, False}}
    # Fixed validation items get the roles too.
    fixed = tk.TokenSet(ds, arrays, augment=False, actor_first=True)
    fixed.texts = roles.texts
    assert torch.equal(fixed[0]["codes"], stored[0]["codes"].flip(0))

    # A text that names the persons by order keeps the random swap, its words swapping with the persons.
    text = "the second person kicks the first person."
    roles.texts = [[text]] * len(roles)
    seen = set()
    for epoch in range(12):
        roles.set_epoch(epoch)
        item = roles[0]
        swapped = torch.equal(item["codes"], stored[0]["codes"].flip(0))
        seen.add(swapped)
        assert item["text"] == ("the first person kicks the second person." if swapped else text)
    assert seen == {True, False}


def test_oversampled_categories_appear_more_often_per_epoch_each_copy_drawing_its_own_text(setup, tmp_path):
    from intermask.errors import InterMaskError

    _, vq, norm, _ = setup
    categories = ["give", "hug", "give"] + ["hug"] * 10
    ds = _labelled_copy(setup, tmp_path, [{"category": c, "actor": 0} for c in categories])
    ids = ds.ids
    arrays = tk.encode_split(ds, vq, norm, max_frames=80, progress=False)
    plain = tk.TokenSet(ds, arrays, seed=3)
    more = tk.TokenSet(ds, arrays, seed=3, oversample=tk.parse_oversample(["give=3"]))

    # Two gives and their mirror images, two more copies each: 2n + 4 × 2 items; the first 2n are unchanged.
    n = len(ids)
    assert len(plain) == 2 * n and len(more) == 2 * n + 8
    assert [more[i]["name"] for i in range(2 * n)] == [plain[i]["name"] for i in range(2 * n)]
    names = [more[i]["name"] for i in range(len(more))]
    assert names.count(ids[0]) == names.count(ids[0] + "_mirror") == 3 and names.count(ids[1]) == 1
    assert more.lengths()[2 * n:] == [plain.lengths()[names.index(name)] for name in names[2 * n:]]
    # A copy is another index, so its slot order is drawn apart from the original's.
    more.texts = [["one person gives the other a cup."]] * (2 * n)
    copies = [i for i, n in enumerate(names) if n == ids[0]]
    flips = set()
    for epoch in range(8):
        more.set_epoch(epoch)
        flips.add(tuple(bool(torch.equal(more[i]["codes"], more[copies[0]]["codes"])) for i in copies))
    assert len(flips) > 1
    # The plan of a data-parallel run sees the longer set like any other.
    plan = GlobalBatchPlan(len(more), 2, 1, 0, seed=0, lengths=more.lengths())
    assert sorted(i for b in plan.epoch_batches(0) for i in b) == list(range(len(more)))

    for bad in (["give"], ["give=0"], ["=2"], ["give=two"]):
        with pytest.raises(InterMaskError, match="CATEGORY=COPIES"):
            tk.parse_oversample(bad)
    with pytest.raises(InterMaskError, match="kiss.*the categories are: give, hug"):
        tk.TokenSet(ds, arrays, oversample={"kiss": 2})


def test_touch_weights_mark_the_time_steps_where_a_wrist_is_on_the_partner(setup, tmp_path):
    import shutil

    from intermask.motion.features import features_to_joints
    from intermask.motion.touch import touch_weights

    tmp, vq, norm, ds = setup
    arrays = tk.encode_split(ds, vq, norm, max_frames=80, progress=False)
    touch = tk.touch_by_token(ds, max_frames=80, frames_per_token=4, progress=False)
    items = tk.TokenSet(ds, arrays, seed=2, touch=touch)
    n = len(ds.ids)
    for k in range(n):
        assert touch[k].shape == (items[k]["tokens"],) and touch[k].dtype == np.float32
        # a token's weight is the closest touch of its four frames, whichever person's wrist it is
        clip = ds.clip(k)
        j1, j2 = features_to_joints(clip.f1[:4]), features_to_joints(clip.f2[:4])
        first = max(touch_weights(j1, j2).max(), touch_weights(j2, j1).max())
        assert touch[k][0] == pytest.approx(first, rel=1e-6)
        # the clip's mirror image and either slot order carry the same weights
        assert torch.equal(items[k]["touch"], items[k + n]["touch"])
    assert max(float(w.max()) for w in touch) < 0.9  # the fixture's random pairs stand apart

    # Two persons in the same place: every wrist is on the partner, at every time step.
    root = tmp_path / "data"
    shutil.copytree(tmp / "data", root)
    for f in (root / "motions_processed" / "person1").iterdir():
        shutil.copy(f, root / "motions_processed" / "person2" / f.name)
    same = InterHumanDataset(root, "train", None, max_frames=80, mirror=True, swap=False)
    assert all(np.allclose(w, 1.0) for w in tk.touch_by_token(same, 80, 4, progress=False))

    # Batches pad the weights like the codes.
    batch = tk.collate([items[0], items[1]])
    t0, t1 = items[0]["tokens"], items[1]["tokens"]
    assert batch["touch"].shape == (2, max(t0, t1))
    assert torch.equal(batch["touch"][1, :t1], items[1]["touch"]) and not batch["touch"][1, t1:].any()
    assert "touch" not in tk.collate([tk.TokenSet(ds, arrays)[0]])
    with pytest.raises(Exception, match="touch weights do not match"):
        tk.TokenSet(ds, arrays, touch=touch[1:] + touch[:1])
