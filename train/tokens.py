"""Whole-clip token maps of a data split, computed once with the frozen VQ-VAE and read by every training step.

Why whole clips: a 96-frame crop of "walk up, shake hands, walk away" often shows only the walk, so the text and
the motion disagree, and token positions past the crop are never trained although generation asks for up to
10 s. Why a cache: the VQ is frozen, so running its encoder on every batch only repeats the same work.

Each training item is a clip or its mirror image, so two token maps are kept per clip, both in person 1's
canonical frame. (The crop dataset also re-canonicalises on person 2 half of the time; encoding that variant too
would double the tokenising time, 50 min for InterSynth's 6,400 training clips with the 256-channel encoder on
2 CPU cores, for a view the slot-order swap already mostly gives.) An item draws (from ``[seed, epoch, index]``,
like the crop dataset) one description and the slot order; the codes are then only looked up, never recomputed.

The file (``tokens_<split>.safetensors``) holds one flat int16 code array with per-map offsets and lengths, and
metadata naming the VQ weights and the data it came from (the clip ids too); a mismatch rebuilds it. A rebuild
can copy the maps of clips that other caches hold by id (:func:`donated_maps`), so growing a data set only
tokenises the new clips.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from intermask.atomic import atomic_path
from intermask.data.interhuman import InterHumanDataset, mirror_features, reframe
from intermask.data.person_order import swap_person_order
from intermask.errors import InterMaskError

FORMAT = "intermask-token-cache-1"
VARIANTS = 2  # index = mirrored


def vq_fingerprint(vq: torch.nn.Module) -> str:
    """A short hash of the VQ weights that make codes: token maps are only valid for the encoder and codebook that
    made them. The decoder is left out, so a decoder trained alone (``train_vq.py --decoder-only``) keeps the cache."""
    h = hashlib.sha256()
    for name, t in sorted(vq.state_dict().items()):
        if name.startswith("decoder."):
            continue
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _variant_features(clip, mirrored: bool, frames: int) -> tuple[np.ndarray, np.ndarray]:
    f1, f2 = (mirror_features(clip.f1), mirror_features(clip.f2)) if mirrored else (clip.f1, clip.f2)
    if frames == clip.frames:
        return f1, f2  # already canonical (mirroring commutes with canonicalisation)
    return reframe(f1, f2, 0, frames)


def clip_tokens(dataset: InterHumanDataset, max_frames: int, frames_per_token: int) -> np.ndarray:
    """Each clip's token length. A clip longer than ``max_frames`` keeps its first ``max_frames`` raw frames, as the
    evaluation's items do (InterSynth clips are at most 10 s); the last frames that do not fill a whole token are
    dropped."""
    return np.array([(min(dataset.frames(k), max_frames) - 1) // frames_per_token for k in range(len(dataset.ids))],
                    dtype=np.int64)


def chunked(tokens: np.ndarray, skip=frozenset()) -> list[list[int]]:
    """The clips (but those in ``skip``) in encoding chunks: equal token lengths, at most 64 per VQ call."""
    by_len: dict[int, list[int]] = {}
    for k, t in enumerate(tokens):
        if k not in skip:
            by_len.setdefault(int(t), []).append(k)
    return [ks[i:i + 64] for _, ks in sorted(by_len.items()) for i in range(0, len(ks), 64)]


def plan_chunks(dataset: InterHumanDataset, max_frames: int, frames_per_token: int
                ) -> tuple[np.ndarray, list[list[int]]]:
    """Each clip's token length (:func:`clip_tokens`) and all clips in encoding chunks (:func:`chunked`)."""
    tokens = clip_tokens(dataset, max_frames, frames_per_token)
    return tokens, chunked(tokens)


@torch.no_grad()
def encode_chunks(dataset: InterHumanDataset, vq, normalizer, max_frames: int, chunks: list[list[int]],
                  progress: bool = True) -> dict[int, np.ndarray]:
    """{clip: its token maps (VARIANTS, 2, groups, T') int16} for the clips of ``chunks``, one VQ call per chunk."""
    from tqdm import tqdm

    fpt, groups = vq.frames_per_token, vq.groups
    maps: dict[int, np.ndarray] = {}
    bar = tqdm(total=sum(map(len, chunks)), desc=f"tokenising {dataset.split}", unit="clip", disable=not progress,
               dynamic_ncols=True)
    for chunk in chunks:
        seqs = []
        for k in chunk:
            clip = dataset.clip(k)
            frames = min(clip.frames, max_frames)
            t = (frames - 1) // fpt
            for v in range(VARIANTS):
                f1, f2 = _variant_features(clip, bool(v), frames)
                seqs += [f1[:fpt * t], f2[:fpt * t]]
        x = torch.from_numpy(normalizer.normalize(np.stack(seqs)).astype(np.float32))
        ids = vq.encode(x).view(len(chunk), VARIANTS, 2, groups, -1).numpy().astype(np.int16)
        maps.update(zip(chunk, ids))
        bar.update(len(chunk))
    bar.close()
    return maps


def pack(tokens: np.ndarray, maps: dict[int, np.ndarray]) -> dict[str, np.ndarray]:
    """Every clip's maps → the arrays of :class:`TokenSet` (one flat code array, per-map offsets and lengths)."""
    lengths = np.repeat(tokens, VARIANTS)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    flat = np.concatenate([m.reshape(m.shape[-3] * m.shape[-2], -1)
                           for k in range(len(tokens)) for m in maps[k]], axis=1).astype(np.int16)  # (2·G, Σ T')
    return {"codes": flat, "offsets": offsets, "tokens": lengths.astype(np.int64)}


def encode_split(dataset: InterHumanDataset, vq, normalizer, max_frames: int, progress: bool = True
                 ) -> dict[str, np.ndarray]:
    """Token maps (2, groups, T') of every clip of ``dataset``, original and mirrored → arrays for :class:`TokenSet`
    (clip lengths: :func:`plan_chunks`)."""
    tokens, chunks = plan_chunks(dataset, max_frames, vq.frames_per_token)
    return pack(tokens, encode_chunks(dataset, vq, normalizer, max_frames, chunks, progress))


class TokenSet:
    """Training items of cached token maps: ``item(index, epoch)`` → {codes (2, 5, T'), tokens, text, name}.

    Indices ``[0, n)`` are the clips, ``[n, 2n)`` their mirror images when ``mirror`` is on (as in
    :class:`InterHumanDataset`). ``augment`` draws the description and the slot order; off, an item is the
    clip as stored (in file order) with its first description — fixed validation items. ``person_order_words``
    swaps "the first person" and "the second person" in the text of items whose slots are swapped.

    ``actor_first`` gives the two slots roles: where the label names one acting person and the text does not
    name the persons by order, the actor goes to the first slot (in validation items too), so the model learns
    who acts from the slot and binds "with the right hand" to the actor; texts that name an order keep the
    random swap, so "the second person kicks the first" is still learnable. Clips without such a label (both
    act, or no labels, as in InterHuman) keep the random swap.

    ``touch`` (one (T',) array per clip, :func:`touch_by_token`) puts each item's touch weights beside its codes
    (the same for a mirror image and for either slot order: both wrists and both persons are in the maximum).

    ``oversample`` ({category: copies}, from InterSynth's labels) adds ``copies − 1`` more items for every clip
    (and mirror image) of that category, after the ``[0, 2n)`` above; a copy draws its own description and slot
    order, being another index. An epoch then holds more of the actions the model gets wrong, without any other
    change to how batches are planned: the plan only sees a longer set.
    """

    def __init__(self, dataset: InterHumanDataset, arrays: dict[str, np.ndarray], seed: int = 0,
                 mirror: bool = True, augment: bool = True, person_order_words: bool = False,
                 actor_first: bool = False, oversample: dict[str, int] | None = None,
                 touch: list[np.ndarray] | None = None):
        self.dataset = dataset
        self.codes = torch.from_numpy(np.asarray(arrays["codes"]).astype(np.int64))
        self.offsets = np.asarray(arrays["offsets"])
        self.token_counts = np.asarray(arrays["tokens"])
        if len(self.offsets) != len(dataset.ids) * VARIANTS:
            raise InterMaskError(f"The token cache holds {len(self.offsets) // VARIANTS} clips, the {dataset.split} "
                                 f"split {len(dataset.ids)}; delete the cache file to rebuild it.")
        self.seed, self.mirror, self.augment = seed, mirror, augment
        self.person_order_words = person_order_words
        self.epoch = 0
        # Read once: without cached motion, the dataset reads an annotation file per call, on every step.
        variants = 2 if mirror else 1
        self.stored = len(dataset.ids) * variants  # the clips and their mirror images, [0, 2n)
        self.texts = [dataset.descriptions(i) for i in range(self.stored)]
        # Read once (a file per clip) for whichever of the two needs them.
        labels = [dataset.label(k) if actor_first or oversample else None for k in range(len(dataset.ids))]
        self.actors = [actor_slot(label) if actor_first else None for label in labels]
        self.extra = extra_items(dataset, labels, oversample, variants) if oversample else []
        if touch is not None and [len(w) for w in touch] != list(self.token_counts[::VARIANTS]):
            raise InterMaskError("The touch weights do not match the token cache's clip lengths.")
        self.touch = touch

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.stored + len(self.extra)

    def _variant(self, index: int) -> int:
        """The ``[0, 2n)`` index (clip, or its mirror image) that ``index`` is, or is a copy of."""
        return index if index < self.stored else self.extra[index - self.stored]

    def lengths(self) -> list[int]:
        """Token length of every item (for length-bucketed batches)."""
        n = len(self.dataset.ids)
        return [int(self.token_counts[(self._variant(i) % n) * VARIANTS]) for i in range(len(self))]

    def _map(self, clip: int, variant: int) -> torch.Tensor:
        j = clip * VARIANTS + variant
        o, t = int(self.offsets[j]), int(self.token_counts[j])
        return self.codes[:, o:o + t].view(2, -1, t)

    def __getitem__(self, index: int) -> dict:
        n = len(self.dataset.ids)
        if not 0 <= index < len(self):
            raise IndexError(index)
        variant = self._variant(index)
        k, mirrored = variant % n, variant >= n
        texts = self.texts[variant]
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            text = texts[int(rng.integers(len(texts)))].strip() if texts else ""
            flip = bool(rng.random() < 0.5)
        else:
            text, flip = (texts[0].strip() if texts else ""), False
        actor = self.actors[k]
        if actor is not None and swap_person_order(text) == text:
            flip = actor == 1
        codes = self._map(k, int(mirrored))
        if flip:
            codes = codes.flip(0)
            if self.person_order_words:
                text = swap_person_order(text)
        item = {"codes": codes, "tokens": codes.shape[-1], "text": text,
                "name": self.dataset.ids[k] + ("_mirror" if mirrored else "")}
        if self.touch is not None:
            item["touch"] = torch.from_numpy(self.touch[k])
        return item


def touch_by_token(dataset: InterHumanDataset, max_frames: int, frames_per_token: int, progress: bool = True
                   ) -> list[np.ndarray]:
    """Per clip, (T',) float32: the largest ``touch_weights`` of either person's wrists on the other over each
    token's frames (1 on the partner, 1/e at 0.1 m). Mirroring and swapping the persons leave it unchanged, so one
    array serves every item of the clip; clip lengths as in :func:`plan_chunks`."""
    from tqdm import tqdm

    from intermask.motion.features import features_to_joints
    from intermask.motion.touch import touch_weights

    out = []
    for k in tqdm(range(len(dataset.ids)), desc=f"touch weights {dataset.split}", unit="clip", disable=not progress,
                  dynamic_ncols=True):
        clip = dataset.clip(k)
        t = (min(clip.frames, max_frames) - 1) // frames_per_token
        frames = frames_per_token * t
        j1, j2 = features_to_joints(clip.f1[:frames]), features_to_joints(clip.f2[:frames])
        w = np.maximum(touch_weights(j1, j2).max(-1), touch_weights(j2, j1).max(-1))
        out.append(w.reshape(t, frames_per_token).max(-1).astype(np.float32))
    return out


def parse_oversample(entries) -> dict[str, int]:
    """``["give=3", "fist_bump=2"]`` → {"give": 3, "fist_bump": 2}: how many times an epoch holds each clip of a
    category (1 = as stored)."""
    out = {}
    for entry in entries or ():
        name, sep, copies = str(entry).partition("=")
        if not sep or not name.strip() or not copies.strip().isdigit() or int(copies) < 1:
            raise InterMaskError(f"--oversample takes CATEGORY=COPIES with COPIES a whole number >= 1 "
                                 f"(e.g. give=3), not {entry!r}.")
        out[name.strip()] = int(copies)
    return out


def extra_items(dataset: InterHumanDataset, labels: list[dict | None], oversample: dict[str, int],
                variants: int) -> list[int]:
    """The ``[0, variants·n)`` indices that ``oversample`` repeats, each ``copies − 1`` more times, in index order;
    ``labels`` are the dataset's, one per clip."""
    n = len(dataset.ids)
    categories = [(label or {}).get("category") for label in labels]
    if not any(categories):
        raise InterMaskError(f"--oversample needs InterSynth's labels (labels/<id>.json), and {dataset.root} has "
                             "none.")
    unknown = sorted(set(oversample) - set(categories))
    if unknown:
        raise InterMaskError(f"--oversample names {', '.join(unknown)}, which no clip of the {dataset.split} split "
                             f"has; the categories are: {', '.join(sorted(c for c in set(categories) if c))}.")
    return [v * n + k for v in range(variants) for k in range(n)
            for _ in range(oversample.get(categories[k], 1) - 1)]


def actor_slot(label: dict | None) -> int | None:
    """The file slot (0 or 1) of the one acting person a label names; None when both act or nothing is known."""
    actor = (label or {}).get("actor")
    return actor if actor in (0, 1) else None


def collate(items: list[dict]) -> dict:
    """Codes (and touch weights, when the items have them) padded to the batch's longest item (padding is masked
    by the token lengths)."""
    t = max(it["tokens"] for it in items)
    codes = torch.zeros(len(items), *items[0]["codes"].shape[:2], t, dtype=torch.long)
    for i, it in enumerate(items):
        codes[i, :, :, :it["tokens"]] = it["codes"]
    out = {"codes": codes, "tokens": torch.tensor([it["tokens"] for it in items], dtype=torch.long),
           "text": [it["text"] for it in items], "name": [it["name"] for it in items]}
    if "touch" in items[0]:
        out["touch"] = torch.zeros(len(items), t)
        for i, it in enumerate(items):
            out["touch"][i, :it["tokens"]] = it["touch"]
    return out


def _meta(dataset: InterHumanDataset, fingerprint: str, max_frames: int) -> dict:
    """What a cache is valid for; ``ids`` (the clips in order) lets another cache copy its maps by clip id. A cache
    written before ids were recorded still matches (:func:`_same`), it just cannot donate."""
    return {"format": FORMAT, "vq": fingerprint, "split": dataset.split, "clips": len(dataset.ids),
            "ids_hash": hashlib.sha256("\n".join(dataset.ids).encode()).hexdigest()[:16], "max_frames": max_frames,
            "ids": list(dataset.ids)}


def _same(have: dict, want: dict) -> bool:
    return {k: v for k, v in have.items() if k != "ids"} == {k: v for k, v in want.items() if k != "ids"}


def read_meta(path: Path) -> dict:
    from safetensors import safe_open

    with safe_open(str(path), "np") as fh:
        return json.loads((fh.metadata() or {}).get("meta", "{}"))


def donated_maps(donors, dataset: InterHumanDataset, tokens: np.ndarray, fingerprint: str, max_frames: int
                 ) -> dict[int, np.ndarray]:
    """{clip: token maps (VARIANTS, 2, groups, T')} copied from the caches ``donors`` for clips of ``dataset`` with
    the same id and token length, the first donor holding a clip winning.

    A clip's id stands for its motion: give caches of the same clips (e.g. the training split a union extends,
    train/union.py keeps its first root's ids), made with the same VQ and ``max_frames`` (checked)."""
    from safetensors.numpy import load_file

    index = {cid: k for k, cid in enumerate(dataset.ids)}
    maps: dict[int, np.ndarray] = {}
    for path in donors:
        meta = read_meta(path)
        if meta.get("format") != FORMAT or meta.get("vq") != fingerprint or meta.get("max_frames") != max_frames:
            raise InterMaskError(f"The token cache {path} was made with another VQ or --max-frames (or is not a "
                                 "token cache), so its codes cannot be reused.")
        if "ids" not in meta:
            raise InterMaskError(f"The token cache {path} was written before caches recorded their clip ids, so its "
                                 "clips cannot be matched; rebuild it to reuse it.")
        arrays = load_file(str(path))
        codes, offsets, lengths = arrays["codes"], arrays["offsets"], arrays["tokens"]
        for j, cid in enumerate(meta["ids"]):
            k = index.get(cid)
            t = int(lengths[j * VARIANTS])
            if k is None or k in maps or t != tokens[k]:
                continue
            maps[k] = np.stack([codes[:, o:o + t].reshape(2, -1, t)
                                for o in offsets[j * VARIANTS:(j + 1) * VARIANTS]])
    return maps


def load_or_build(path: Path, dataset: InterHumanDataset, vq, normalizer, max_frames: int, fingerprint: str,
                  build: bool, progress: bool = True) -> dict[str, np.ndarray] | None:
    """The cached arrays at ``path`` if they match (VQ weights, clip list, max_frames); else build and save them
    when ``build`` (rank 0), or return None (other ranks wait for rank 0 and call again)."""
    from safetensors.numpy import load_file

    want = _meta(dataset, fingerprint, max_frames)
    if path.exists() and _same(read_meta(path), want):
        return load_file(str(path))
    if not build:
        return None
    arrays = encode_split(dataset, vq, normalizer, max_frames, progress)
    _save(path, arrays, want)
    return arrays


def _save(path: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    from safetensors.numpy import save_file

    with atomic_path(path) as tmp:
        save_file(arrays, str(tmp), metadata={"meta": json.dumps(meta)})


def build_shared(path: Path, dataset: InterHumanDataset, vq, normalizer, max_frames: int, fingerprint: str, d,
                 progress: bool = True, donors=()) -> int:
    """Write the cache at ``path`` with every process of ``d`` (train.distributed.Dist) encoding a share; returns
    how many clips were copied from the caches ``donors`` (:func:`donated_maps`) instead of encoded.

    Rank r encodes chunks r, r + N, … (:func:`plan_chunks`: the chunks, and so every VQ call, are those of one
    process), leaves them in ``<path>.part<r>.npz``, and rank 0 puts them together: the file is the one a single
    process writes, and each process makes 1/N of the VQ calls. Returns when the file is there, on every rank.
    """
    tokens = clip_tokens(dataset, max_frames, vq.frames_per_token)
    donated = donated_maps(donors, dataset, tokens, fingerprint, max_frames) if donors else {}
    chunks = chunked(tokens, skip=donated.keys())
    mine = encode_chunks(dataset, vq, normalizer, max_frames, chunks[d.rank::d.world_size], progress)
    part = lambda r: path.with_name(f"{path.name}.part{r}.npz")  # noqa: E731
    if d.world_size > 1 and not d.is_main:
        with atomic_path(part(d.rank)) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **{str(k): v for k, v in mine.items()})
    d.barrier()
    if d.is_main:
        for r in range(1, d.world_size):
            with np.load(part(r)) as z:
                mine.update((int(k), z[k]) for k in z.files)
            part(r).unlink()
        _save(path, pack(tokens, {**donated, **mine}), _meta(dataset, fingerprint, max_frames))
    d.barrier()
    return len(donated)
