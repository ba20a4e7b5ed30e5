"""Importing the official InterMask checkpoints (intermask/official/).

The official files are built here in their published layout — ``opt.txt`` and ``model/best_fid.tar`` holding the
state dict, optimiser and scheduler — with tiny random weights; the names and shapes below are those of the
official modules (models/vq, models/mask_transformer in the official repository). Numerical parity with the
official code itself is checked by ``import-official --check-against`` (bench/official_parity.py), which needs a
clone of it.
"""
from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import torch
from torch import nn

from intermask.cli import main
from intermask.errors import InterMaskError
from intermask.official import clip_format, opt_file
from intermask.official.importer import OfficialPaths, import_official

VQ = dict(nb_code=32, code_dim=16, width=16, down_t=2, depth=2)
TRANS = dict(latent_dim=24, n_heads=2, n_layers=1, ff_size=32)
CLIP_WIDTH = 768  # the official text head (clipTrans) is fixed at CLIP ViT-L's width


def official_vq_state(nb_code, code_dim, width, down_t, depth) -> dict[str, torch.Tensor]:
    shapes = {"quantizer.layers.0.codebook": (nb_code, code_dim)}

    def sage(prefix, cin, cout):
        shapes.update({f"{prefix}.lin.weight": (cin, cin), f"{prefix}.lin.bias": (cin,),
                       f"{prefix}.lin_l.weight": (cout, cin), f"{prefix}.lin_l.bias": (cout,),
                       f"{prefix}.lin_r.weight": (cout, cin)})

    def conv(prefix, cin, cout, k):
        shapes.update({f"{prefix}.weight": (cout, cin, k, k), f"{prefix}.bias": (cout,)})

    def res(prefix):
        for j in range(depth):
            conv(f"{prefix}.{j}.conv1", width, width, 3)
            conv(f"{prefix}.{j}.conv2", width, width, 1)

    sage("encoder.gcn_layer1", 12, width)
    sage("encoder.gcn_layer2", width, width)
    for i in range(down_t):
        conv(f"encoder.model.{i}.0", width, width, 4)
        res(f"encoder.model.{i}.1.model")
    conv(f"encoder.model.{down_t}", width, code_dim, 3)
    conv("decoder.model.0", code_dim, width, 3)
    for i in range(down_t):
        res(f"decoder.model.{2 + i}.0.model")
        conv(f"decoder.model.{2 + i}.2", width, width, 3)
    conv(f"decoder.model.{2 + down_t}", width, width, 3)
    sage("decoder.gcn_layer1", width, width)
    sage("decoder.gcn_layer2", width, 12)
    return {k: torch.randn(s) * 0.1 for k, s in shapes.items()}


def official_transformer_state(nb_code, code_dim, latent_dim, n_layers, ff_size, **_) -> dict[str, torch.Tensor]:
    d = latent_dim
    shapes = {"token_emb.weight": (nb_code + 3, code_dim), "input_process.poseEmbedding.weight": (d, code_dim),
              "input_process.poseEmbedding.bias": (d,), "cond_emb.weight": (d, CLIP_WIDTH), "cond_emb.bias": (d,),
              "output_process.dense.weight": (d, d), "output_process.dense.bias": (d,),
              "output_process.adaLN_mod.model.1.weight": (2 * d, d), "output_process.adaLN_mod.model.1.bias": (2 * d,),
              "output_process.poseFinal.weight": (nb_code, d), "output_process.poseFinal.bias": (nb_code,),
              "clipln.weight": (CLIP_WIDTH,), "clipln.bias": (CLIP_WIDTH,)}

    def attention(prefix, width):
        shapes.update({f"{prefix}.in_proj_weight": (3 * width, width), f"{prefix}.in_proj_bias": (3 * width,),
                       f"{prefix}.out_proj.weight": (width, width), f"{prefix}.out_proj.bias": (width,)})

    for i in range(n_layers):
        b = f"Transformer.blocks.{i}"
        for name, n in (("adaLN_mod_combined", 6), ("adaLN_mod_split", 14)):
            shapes.update({f"{b}.{name}.model.1.weight": (n * d, d), f"{b}.{name}.model.1.bias": (n * d,)})
        attention(f"{b}.self_attn.attention", d)
        attention(f"{b}.spa_temp_attn.spatial_attention", d)
        attention(f"{b}.spa_temp_attn.temporal_attention", d)
        attention(f"{b}.local_inter_attn.interaction_attention", d)
        for ffn in ("ffn_combined", "ffn_split"):
            shapes.update({f"{b}.{ffn}.model.0.weight": (ff_size, d), f"{b}.{ffn}.model.0.bias": (ff_size,),
                           f"{b}.{ffn}.model.3.weight": (d, ff_size), f"{b}.{ffn}.model.3.bias": (d,)})
    for i in range(2):
        c = f"clipTrans.layers.{i}"
        attention(f"{c}.self_attn", CLIP_WIDTH)
        shapes.update({f"{c}.linear1.weight": (2048, CLIP_WIDTH), f"{c}.linear1.bias": (2048,),
                       f"{c}.linear2.weight": (CLIP_WIDTH, 2048), f"{c}.linear2.bias": (CLIP_WIDTH,)})
        for n in ("norm1", "norm2"):
            shapes.update({f"{c}.{n}.weight": (CLIP_WIDTH,), f"{c}.{n}.bias": (CLIP_WIDTH,)})
    state = {k: torch.randn(s) * 0.05 for k, s in shapes.items()}
    ch = int(np.ceil(d / 4) * 2)
    state["position_enc.positional_encoding.inv_freq"] = 1.0 / (10000 ** (torch.arange(0, ch, 2).float() / ch))
    return state


def save_like_official_trainer(path, entry: str, state: dict) -> None:
    """What the official trainers' ``save`` writes: model, AdamW state, MultiStepLR state, epoch, iteration."""
    params = [nn.Parameter(torch.zeros(2))]
    opt = torch.optim.AdamW(params, lr=2e-4, betas=(0.9, 0.99))
    params[0].grad = torch.ones(2)
    opt.step()
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[10, 20], gamma=0.1)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({entry: state, "opt_" + entry: opt.state_dict(), "scheduler": sched.state_dict(), "ep": 7,
                "total_it": 700}, path)


@pytest.fixture(scope="module")
def official_dir(tmp_path_factory):
    """checkpoints/interhuman/{vq_default,trans_default}/{opt.txt, model/best_fid.tar} and data/stats/."""
    root = tmp_path_factory.mktemp("official")
    torch.manual_seed(0)
    run = root / "checkpoints" / "interhuman"
    opt_file.write_opt(run / "vq_default" / "opt.txt", opt_file.official_vq_options(**VQ))
    opt_file.write_opt(run / "trans_default" / "opt.txt", opt_file.official_transformer_options(**TRANS))
    vq_state = official_vq_state(**VQ)
    trans_state = official_transformer_state(nb_code=VQ["nb_code"], code_dim=VQ["code_dim"], **TRANS)
    save_like_official_trainer(run / "vq_default" / "model" / "best_fid.tar", "vq_model", vq_state)
    save_like_official_trainer(run / "trans_default" / "model" / "best_fid.tar", "t2m_transformer", trans_state)
    stats = root / "data" / "stats"
    stats.mkdir(parents=True)
    np.save(stats / "global_mean.npy", np.random.default_rng(0).normal(size=262).astype(np.float32) * 0.1)
    np.save(stats / "global_std.npy", np.full(262, 0.5, np.float32))
    return root, vq_state, trans_state


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    """A random one-layer CLIP text tower of ViT-L's width in OpenAI's layout, converted with clip_format."""
    torch.manual_seed(1)
    merges = ["h u", "hu g</w>", "w a", "wa v", "wav e</w>"]
    vocab = len(clip_format.vocabulary(merges))
    w, ff = CLIP_WIDTH, 64
    state = {"token_embedding.weight": torch.randn(vocab, w) * 0.02, "positional_embedding": torch.randn(77, w) * 0.01,
             "ln_final.weight": 1 + 0.1 * torch.randn(w), "ln_final.bias": 0.1 * torch.randn(w),
             "text_projection": torch.randn(w, 16) * 0.02}
    p = "transformer.resblocks.0."
    state.update({p + "attn.in_proj_weight": torch.randn(3 * w, w) * w ** -0.5, p + "attn.in_proj_bias": torch.zeros(3 * w),
                  p + "attn.out_proj.weight": torch.randn(w, w) * w ** -0.5, p + "attn.out_proj.bias": torch.zeros(w),
                  p + "ln_1.weight": torch.ones(w), p + "ln_1.bias": torch.zeros(w),
                  p + "ln_2.weight": torch.ones(w), p + "ln_2.bias": torch.zeros(w),
                  p + "mlp.c_fc.weight": torch.randn(ff, w) * 0.05, p + "mlp.c_fc.bias": torch.zeros(ff),
                  p + "mlp.c_proj.weight": torch.randn(w, ff) * 0.05, p + "mlp.c_proj.bias": torch.zeros(w)})
    d = tmp_path_factory.mktemp("clip")
    clip_format.write_transformers_clip(d, state, merges)
    return d, state, merges


@pytest.fixture(scope="module")
def imported(official_dir, clip_dir, tmp_path_factory):
    """The import, run as a user runs it: ``python -m intermask import-official ...``."""
    root = official_dir[0]
    out = tmp_path_factory.mktemp("imported")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["import-official", "--checkpoints", str(root / "checkpoints"), "--stats",
                     str(root / "data" / "stats"), "--dataset", "interhuman", "--out", str(out),
                     "--clip-path", str(clip_dir[0])])
    assert code == 0 and f"INTERMASK_CHECKPOINT={out / 'intermask'}" in printed.getvalue()
    return out


@pytest.fixture(scope="module")
def model(imported):
    from intermask.api import InterMask

    return InterMask.from_pretrained(imported / "intermask")


def test_import_writes_checkpoints_that_load_and_generate(imported, model, official_dir):
    _, vq_state, trans_state = official_dir
    config = json.loads((imported / "intermask" / "config.json").read_text())
    assert config["text_encoder"] == "clip_official" and config["text"]["max_words"] == 77
    assert config["vq"]["gcn_official_bug"] and config["vq"]["nb_code"] == 32
    assert config["transformer"]["token_emb_dim"] == 16 and config["transformer"]["word_xattn"] == "none"
    # values land where the official modules had them
    torch.testing.assert_close(model.vq.encoder.out.weight, vq_state["encoder.model.2.weight"])
    torch.testing.assert_close(model.vq.decoder.up[1].res[0].conv1.weight,
                               vq_state["decoder.model.3.0.model.0.conv1.weight"])
    torch.testing.assert_close(model.vq.decoder.head[0].proj.bias, vq_state["decoder.gcn_layer1.lin.bias"])
    torch.testing.assert_close(model.vq.quantizer.codebook, vq_state["quantizer.layers.0.codebook"])
    torch.testing.assert_close(model.vq.quantizer.code_sum, vq_state["quantizer.layers.0.codebook"])
    torch.testing.assert_close(model.transformer.token_proj.weight, trans_state["input_process.poseEmbedding.weight"])
    torch.testing.assert_close(model.transformer.blocks[0].cross_attn.in_proj.bias,
                               trans_state["Transformer.blocks.0.local_inter_attn.interaction_attention.in_proj_bias"])
    torch.testing.assert_close(model.transformer.text_head.norm.weight, trans_state["clipln.weight"])
    [clip] = model.generate("hug", seconds=1.0, seed=0, time_steps=2, refine=False)
    assert clip.joints.shape == (2, 30, 22, 3) and np.isfinite(clip.joints).all()


def test_tokens_round_trip_through_the_public_methods(model):
    ids = torch.randint(0, 32, (2, 2, 5, 3))
    feats = model.decode_tokens(ids)
    assert feats.shape == (2, 2, 12, 262)
    assert model.decode_tokens(ids, frames=10).shape == (2, 2, 10, 262)
    codes = model.encode_tokens(feats)
    assert codes.shape == (2, 2, 5, 3) and codes.dtype == torch.long
    # one motion encodes the same alone or in a batch (the official graph-conv quirk is per motion here)
    torch.testing.assert_close(model.encode_tokens(feats[1, 0][None])[0], codes[1, 0])
    with pytest.raises(InterMaskError, match="multiple of 4"):
        model.encode_tokens(feats[:, :, :10])
    with pytest.raises(InterMaskError, match=r"\(B, 2, 5, T'\)"):
        model.decode_tokens(ids[:, 0])


def test_text_path_is_the_official_one(model, clip_dir):
    """77 CLIP rows (padding id 0, causal mask only) → 2-layer post-norm encoder without mask → LayerNorm → EOT row,
    computed here with torch's own nn.TransformerEncoder holding the imported weights."""
    from transformers import CLIPTextModel, CLIPTokenizer

    texts = ["hug", "wave hug", ""]
    tok = CLIPTokenizer.from_pretrained(clip_dir[0])
    clip = CLIPTextModel.from_pretrained(clip_dir[0]).eval()
    ids = torch.zeros(3, 77, dtype=torch.long)
    for i, row in enumerate(tok(texts)["input_ids"]):
        ids[i, :len(row)] = torch.tensor(row)
    layer = nn.TransformerEncoderLayer(CLIP_WIDTH, 8, 2048, dropout=0.1, activation="gelu", batch_first=True)
    reference = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False).eval()
    ln = nn.LayerNorm(CLIP_WIDTH).eval()
    head = model.transformer.text_head
    for i in range(2):
        ours, ref = head.layers[i], reference.layers[i]
        ref.self_attn.in_proj_weight.data.copy_(ours.attn.in_proj.weight)
        ref.self_attn.in_proj_bias.data.copy_(ours.attn.in_proj.bias)
        ref.self_attn.out_proj.load_state_dict(ours.attn.out_proj.state_dict())
        ref.linear1.load_state_dict(ours.ffn.linear1.state_dict())
        ref.linear2.load_state_dict(ours.ffn.linear2.state_dict())
        ref.norm1.load_state_dict(ours.norm1.state_dict())
        ref.norm2.load_state_dict(ours.norm2.state_dict())
    ln.load_state_dict(head.norm.state_dict())
    with torch.no_grad():
        rows = clip(input_ids=ids).last_hidden_state
        expected = ln(reference(rows))[torch.arange(3), ids.argmax(-1)]
        feats = model.text_features(texts)
        got = head(feats.sentence, feats.words, feats.mask)[0]
    assert feats.words.shape == (3, 76, CLIP_WIDTH) and bool(feats.mask.all())
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


def openai_text_forward(state: dict, ids: torch.Tensor) -> torch.Tensor:
    """OpenAI CLIP's text tower as its model.py writes it: pre-norm residual blocks with a causal mask,
    QuickGELU MLP, then ln_final (no projection)."""
    w = state["token_embedding.weight"].shape[1]
    x = state["token_embedding.weight"][ids] + state["positional_embedding"]
    causal = torch.full((77, 77), float("-inf")).triu(1)
    mha = nn.MultiheadAttention(w, w // 64, batch_first=True)
    p = "transformer.resblocks.0."
    mha.in_proj_weight.data.copy_(state[p + "attn.in_proj_weight"])
    mha.in_proj_bias.data.copy_(state[p + "attn.in_proj_bias"])
    mha.out_proj.weight.data.copy_(state[p + "attn.out_proj.weight"])
    mha.out_proj.bias.data.copy_(state[p + "attn.out_proj.bias"])

    def ln(v, name):
        return nn.functional.layer_norm(v, (w,), state[name + ".weight"], state[name + ".bias"], 1e-5)

    h = ln(x, p + "ln_1")
    x = x + mha(h, h, h, attn_mask=causal, need_weights=False)[0]
    h = quick_gelu(nn.functional.linear(ln(x, p + "ln_2"), state[p + "mlp.c_fc.weight"], state[p + "mlp.c_fc.bias"]))
    x = x + nn.functional.linear(h, state[p + "mlp.c_proj.weight"], state[p + "mlp.c_proj.bias"])
    return ln(x, "ln_final")


def test_clip_conversion_computes_the_openai_text_tower(clip_dir):
    from transformers import CLIPTextModel, CLIPTokenizer

    directory, state, merges = clip_dir
    vocab = clip_format.vocabulary(merges)
    tok = CLIPTokenizer.from_pretrained(directory)
    assert tok("hug wave")["input_ids"] == [vocab.index(clip_format.SOT), vocab.index("hug</w>"),
                                           vocab.index("wave</w>"), vocab.index(clip_format.EOT)]
    ids = torch.zeros(1, 77, dtype=torch.long)
    ids[0, :4] = torch.tensor(tok("hug wave")["input_ids"])
    with torch.no_grad():
        ours = CLIPTextModel.from_pretrained(directory).eval()(input_ids=ids).last_hidden_state
        torch.testing.assert_close(ours, openai_text_forward(state, ids), atol=1e-4, rtol=1e-4)


# ------------------------------------------------------------------------------------------------ refusals
def _official_copy(official_dir, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(official_dir[0], root)
    return root, OfficialPaths(root / "checkpoints", root / "data" / "stats")


def test_every_official_key_must_be_consumed_and_every_weight_filled(official_dir, tmp_path):
    root, paths = _official_copy(official_dir, tmp_path)
    tar = paths.weights("vq_default")
    state = dict(official_dir[1], **{"encoder.extra.weight": torch.zeros(1)})
    save_like_official_trainer(tar, "vq_model", state)
    with pytest.raises(InterMaskError, match="'encoder.extra.weight'"):
        import_official(paths, tmp_path / "out")
    state = {k: v for k, v in official_dir[1].items() if k != "decoder.model.4.bias"}
    save_like_official_trainer(tar, "vq_model", state)
    with pytest.raises(InterMaskError, match="lacks 'decoder.post.bias'"):
        import_official(paths, tmp_path / "out")
    opt_file.write_opt(paths.run_dir("vq_default") / "opt.txt", opt_file.official_vq_options(**dict(VQ, width=8)))
    save_like_official_trainer(tar, "vq_model", official_dir[1])
    with pytest.raises(InterMaskError, match="does not match the weights"):
        import_official(paths, tmp_path / "out")
    assert not (tmp_path / "out" / "vq").exists()


def test_files_that_need_more_than_tensors_are_refused(official_dir, tmp_path):
    root, paths = _official_copy(official_dir, tmp_path)
    torch.save({"vq_model": official_dir[1], "extra": np.float64(1.0).__class__}, paths.weights("vq_default"))
    with pytest.raises(InterMaskError, match="refusing it"):
        import_official(paths, tmp_path / "out")


def test_options_without_a_counterpart_are_refused(official_dir, tmp_path):
    root, paths = _official_copy(official_dir, tmp_path)
    opt_file.write_opt(paths.run_dir("vq_default") / "opt.txt",
                       opt_file.official_vq_options(**dict(VQ, num_quantizers=2)))
    with pytest.raises(InterMaskError, match=r"num_quantizers = 2 .*accepted: \[1\]"):
        import_official(paths, tmp_path / "out")
    with pytest.raises(InterMaskError, match="pass --vq-name vq_default"):
        import_official(OfficialPaths(paths.checkpoints, paths.stats, vq_name="vq_other"), tmp_path / "out")
    with pytest.raises(InterMaskError, match="accepted: 'interhuman'"):
        import_official(OfficialPaths(paths.checkpoints, paths.stats, dataset="interx"), tmp_path / "out")


def test_the_cards_name_the_source_and_the_terms(imported):
    for kind in ("vq", "intermask"):
        card = (imported / kind / "card.md").read_text()
        assert "import-official" in card and "best_fid.tar" in card and "non-commercial" in card


def test_the_parity_check_names_what_it_needs(tmp_path):
    from intermask.official.parity import format_report, load_official

    with pytest.raises(InterMaskError, match="not a clone of the official InterMask repository"):
        load_official(tmp_path)
    report = {"stubs": [], "passed": False, "checks": [
        {"name": "VQ encode ids (mismatches)", "max_abs_diff": 0.0, "target": 0.0, "ok": True, "scale": None},
        {"name": "text features", "max_abs_diff": 0.5, "target": 1e-4, "ok": False, "scale": None}]}
    text = format_report(report)
    assert "ok   VQ encode ids" in text and "FAIL text features" in text and text.endswith("FAILED")
