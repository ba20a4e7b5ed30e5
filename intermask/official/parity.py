"""``--check-against OFFICIAL_REPO_DIR``: run the official modules of a clone beside the imported checkpoint.

Both sides load the same official ``.tar`` files and are fed the same random inputs: motion features → VQ code ids
(must be identical), code ids → VQ decoder features, prompts → CLIP token ids (identical) and text features, and a
partly masked, partly padded token map → transformer logits with and without the text. CLIP weights are not
distributed with the checkpoints, so both sides use one random CLIP with the ViT-L/14@336px text shapes: the
official side through OpenAI's ``clip`` package, ours converted to a ``transformers`` directory.

The official modules need ``torch_geometric``, ``einops``, ``positional_encodings`` and ``clip`` (``pip install
torch-geometric einops positional-encodings clip-anytorch``). Two things are stubbed, only while the official code
is imported or built, and reported: ``torchvision`` when it is missing (``clip`` imports its image transforms at
import time; the text path never uses them), and ``Tensor.cuda`` (the official quantiser creates its codebook with
``.cuda()``, which fails on a machine without a GPU).
"""
from __future__ import annotations

import contextlib
import gzip
import importlib
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import torch

from intermask.errors import InterMaskError

PROMPTS = ["two people shake hands with their right hands", "one person pushes the other, who stumbles back",
           "they hug", "", "The first person waves; the second waves back, then they walk away together."]
CLIP_TEXT = dict(embed_dim=768, transformer_width=768, transformer_heads=12, transformer_layers=12,
                 context_length=77, vocab_size=49408)  # ViT-L/14@336px's text tower
TARGET_FEATURES = 1e-4
OFFICIAL_TOP = ("models", "utils", "data", "options")


@contextlib.contextmanager
def cpu_cuda():
    """Let the official code's ``.cuda()`` calls (its quantiser's codebook) stay on the CPU while it runs here."""
    original = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    try:
        yield
    finally:
        torch.Tensor.cuda = original


def _stub_torchvision() -> list[str]:
    try:
        importlib.import_module("torchvision.transforms")
        return []
    except Exception:  # noqa: BLE001 - any failure to import it means the stub is needed
        pass
    tv, tvt = types.ModuleType("torchvision"), types.ModuleType("torchvision.transforms")
    for name in ("Compose", "Resize", "CenterCrop", "ToTensor", "Normalize"):
        setattr(tvt, name, None)
    tvt.InterpolationMode = types.SimpleNamespace(BICUBIC="bicubic")
    tv.transforms = tvt
    sys.modules["torchvision"], sys.modules["torchvision.transforms"] = tv, tvt
    return ["torchvision (clip's image transforms; unused by the text path)"]


def load_official(repo: Path) -> types.SimpleNamespace:
    """Import the official modules from ``repo`` (a clone of the official repository)."""
    repo = Path(repo).resolve()
    if not (repo / "models" / "vq" / "model.py").is_file():
        raise InterMaskError(f"{repo} is not a clone of the official InterMask repository (no models/vq/model.py).")
    stubs = _stub_torchvision()
    for name in list(sys.modules):
        if name.split(".")[0] in OFFICIAL_TOP:
            del sys.modules[name]
    sys.path.insert(0, str(repo))
    try:
        clip = importlib.import_module("clip")
        clip_model = importlib.import_module("clip.model")
        vq_model = importlib.import_module("models.vq.model")
        transformer = importlib.import_module("models.mask_transformer.transformer")
        get_opt = importlib.import_module("utils.get_opt")
    except ImportError as exc:
        raise InterMaskError(f"The official modules need {exc.name!r}: pip install torch-geometric einops "
                             "positional-encodings clip-anytorch (for the check only).") from None
    finally:
        sys.path.remove(str(repo))
        if stubs:  # clip holds what it took from the stub; nothing else may see it (transformers probes torchvision)
            for name in ("torchvision.transforms", "torchvision"):
                sys.modules.pop(name, None)
    stubs.append("Tensor.cuda → no-op while the official VQ is built (its codebook is created with .cuda())")
    return types.SimpleNamespace(clip=clip, clip_model=clip_model, RVQVAE=vq_model.RVQVAE,
                                 MaskTransformer=transformer.MaskTransformer, get_opt=get_opt.get_opt, stubs=stubs)


def random_clip(official, seed: int):
    torch.manual_seed(seed)
    c = CLIP_TEXT
    # a tiny vision tower: only the text tower is used, and ViT-L's would take minutes to initialise
    model = official.clip_model.CLIP(c["embed_dim"], 32, 1, 64, 16, c["context_length"], c["vocab_size"],
                                     c["transformer_width"], c["transformer_heads"], c["transformer_layers"])
    return model.float().eval()


def clip_merges(official) -> list[str]:
    bpe = Path(official.clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"
    lines = gzip.open(bpe).read().decode("utf-8").split("\n")
    return lines[1:49152 - 256 - 2 + 1]  # the merges OpenAI's tokenizer uses


def build_official_models(official, vq_opt, trans_opt, clip_model):
    """The official RVQVAE and MaskTransformer for these options, built as the official inference script builds
    them, with ``clip_model`` standing in for the CLIP it would download (weights not loaded)."""
    trans_opt.num_tokens, trans_opt.code_dim = vq_opt.nb_code, vq_opt.code_dim
    with cpu_cuda():
        vq = official.RVQVAE(vq_opt, 12, vq_opt.nb_code, vq_opt.code_dim, vq_opt.code_dim, vq_opt.down_t,
                             vq_opt.stride_t, vq_opt.width, vq_opt.depth, vq_opt.dilation_growth_rate,
                             vq_opt.vq_act, vq_opt.vq_norm)
    original_load = official.clip.load
    official.clip.load = lambda *args, **kwargs: (clip_model, None)
    try:
        trans = official.MaskTransformer(code_dim=vq_opt.code_dim, cond_mode="text", latent_dim=trans_opt.latent_dim,
                                         ff_size=trans_opt.ff_size, num_layers=trans_opt.n_layers,
                                         num_heads=trans_opt.n_heads, dropout=trans_opt.dropout, clip_dim=768,
                                         cond_drop_prob=trans_opt.cond_drop_prob, clip_version="ViT-L/14@336px",
                                         opt=trans_opt)
    finally:
        official.clip.load = original_load
    return vq, trans


def official_models(official, paths, clip_model):
    """The official RVQVAE and MaskTransformer built and loaded as the official inference script does."""
    from intermask.official.importer import TRANSFORMER_ENTRIES, VQ_ENTRIES, load_state

    trans_opt = official.get_opt(str(paths.run_dir(paths.trans_name) / "opt.txt"), torch.device("cpu"))
    vq_opt = official.get_opt(str(paths.run_dir(paths.vq_name) / "opt.txt"), torch.device("cpu"))
    vq, trans = build_official_models(official, vq_opt, trans_opt, clip_model)
    vq.load_state_dict(load_state(paths.weights(paths.vq_name), VQ_ENTRIES), strict=True)
    missing, unexpected = trans.load_state_dict(load_state(paths.weights(paths.trans_name), TRANSFORMER_ENTRIES),
                                                strict=False)
    if unexpected or not all(k.startswith("clip_") for k in missing):
        raise InterMaskError(f"The official transformer did not load its own checkpoint: missing "
                             f"{[k for k in missing if not k.startswith('clip_')][:3]}, unexpected {unexpected[:3]}.")
    return vq.eval(), trans.eval()


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max())


@torch.no_grad()
def check_against(repo: Path, paths, trans_dir: Path, seed: int = 0, batch: int = 3, frames: int = 64) -> dict:
    """Run both implementations; → a report dict (see :func:`format_report`)."""
    from intermask.api import InterMask
    from intermask.official.clip_format import write_transformers_clip
    from intermask.text.clip import CLIPEncoder

    official = load_official(repo)
    clip_model = random_clip(official, seed)
    o_vq, o_trans = official_models(official, paths, clip_model)
    with tempfile.TemporaryDirectory() as tmp:
        write_transformers_clip(tmp, clip_model.state_dict(), clip_merges(official))
        encoder = CLIPEncoder(path=tmp, max_words=77, official_tokens=True)
        model = InterMask.from_pretrained(trans_dir, text_encoder=encoder)
        report = {"stubs": official.stubs, "checks": []}

        def add(name, value, target, exact=False, scale=None):
            ok = value == 0 if exact else value <= target
            report["checks"].append({"name": name, "max_abs_diff": value, "target": 0.0 if exact else target,
                                     "ok": bool(ok), "scale": scale})

        gen = torch.Generator().manual_seed(seed)
        # 1) CLIP tokens and the text features the transformer is conditioned on
        o_tokens = official.clip.tokenize(PROMPTS, truncate=True)
        rows = encoder._tokenizer(PROMPTS, truncation=True, max_length=77)["input_ids"]
        ours_tokens = torch.zeros_like(o_tokens)
        for i, row in enumerate(rows):
            ours_tokens[i, :len(row)] = torch.as_tensor(row)
        add("CLIP token ids", float((o_tokens != ours_tokens).sum()), 0, exact=True)
        o_text = o_trans.encode_text(PROMPTS)
        feats = model.text_features(PROMPTS)
        ours_text = model.transformer.text_head(feats.sentence, feats.words, feats.mask)[0]
        add("text features (clipTrans + clipln at EOT)", _max_diff(o_text, ours_text), TARGET_FEATURES,
            scale=f"max |value| {float(o_text.abs().max()):.3g}")

        # 2) VQ: random normalised motion → ids; random ids → features. The official graph convolution gives
        # edges only to batch element 0, so the official side runs one motion per batch, as its inference does.
        x = torch.randn(batch, frames, 262, generator=gen)
        o_ids = torch.cat([o_vq.encode(x[i:i + 1])[0].view(1, -1) for i in range(batch)])
        ours_ids = model.vq.encode(x).view(batch, -1)
        add("VQ encode ids (mismatches)", float((o_ids != ours_ids).sum()), 0, exact=True,
            scale=f"{o_ids.numel()} ids, {len(o_ids.unique())} distinct")
        t_tok = frames // model.frames_per_token
        ids = torch.randint(0, model.vq.nb_code, (batch, 2, model.groups, t_tok), generator=gen)
        o_feat = torch.stack([torch.cat([o_vq.forward_decoder(ids[i, p].reshape(1, -1, 1)) for p in range(2)])
                              for i in range(batch)])
        ours_feat = model.vq.decode(ids.view(batch * 2, model.groups, t_tok)).view(batch, 2, frames, 262)
        add("VQ decode features (normalised)", _max_diff(o_feat, ours_feat), TARGET_FEATURES,
            scale=f"max |value| {float(o_feat.abs().max()):.3g}")
        de_official = o_feat.numpy() * model.normalizer.std + model.normalizer.mean
        add("VQ decode features (de-normalised, decode_tokens)",
            float(np.abs(de_official - model.decode_tokens(ids)).max()), TARGET_FEATURES)

        # 3) transformer logits on a partly masked token map, one sample shorter (padded)
        lengths = torch.tensor([t_tok] + [max(1, t_tok - 3 * i) for i in range(1, batch)])
        tok = torch.randint(0, model.vq.nb_code, (batch, 2, model.groups, t_tok), generator=gen)
        tok[torch.rand(tok.shape, generator=gen) < 0.5] = model.transformer.mask_id
        pad = torch.arange(t_tok)[None] >= lengths[:, None]  # (B, T')
        tok[pad[:, None, None, :].expand_as(tok)] = model.transformer.pad_id
        texts = PROMPTS[:batch]
        cond = o_trans.encode_text(texts)
        feats = model.text_features(texts)
        o_pad = pad[:, None, None, :].expand(batch, 2, model.groups, t_tok).reshape(batch, -1)
        for uncond in (False, True):
            o_logits = o_trans.trans_forward(tok.reshape(batch, -1), cond, o_pad, force_mask=uncond)
            ours = model.transformer(tok, lengths, feats, torch.full((batch,), uncond))
            ours = ours.reshape(batch, -1, ours.shape[-1]).transpose(1, 2)  # (B, K, 2·G·T') like the official
            valid = ~o_pad[:, None, :].expand_as(o_logits)
            add(f"transformer logits ({'without' if uncond else 'with'} text, real positions)",
                _max_diff(o_logits[valid], ours[valid]), TARGET_FEATURES,
                scale=f"max |value| {float(o_logits[valid].abs().max()):.3g}, lengths {lengths.tolist()} tokens")
    report["passed"] = all(c["ok"] for c in report["checks"])
    return report


def format_report(report: dict) -> str:
    lines = ["parity with the official code (same checkpoint, same random inputs):"]
    for c in report["checks"]:
        target = "identical" if c["target"] == 0 else f"<= {c['target']:g}"
        scale = f"; {c['scale']}" if c.get("scale") else ""
        lines.append(f"  {'ok  ' if c['ok'] else 'FAIL'} {c['name']:<52} max |diff| {c['max_abs_diff']:.3g} "
                     f"(target {target}{scale})")
    if report["stubs"]:
        lines.append("  stubbed while importing/building the official code: " + "; ".join(report["stubs"]))
    lines.append("PASSED" if report["passed"] else "FAILED")
    return "\n".join(lines)
