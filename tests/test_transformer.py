"""The Inter-M transformer: parameter counts, shapes, padding, guidance null condition, masking statistics."""
import dataclasses
import math

import pytest
import torch

from intermask.config import TransformerConfig, paper
from intermask.errors import InterMaskError
from intermask.models import keyed_random as kr
from intermask.models.masking import bert_corrupt, choose_masks
from intermask.models.transformer import InterMTransformer
from intermask.text.base import TextFeatures, ToyTextEncoder

SMALL = TransformerConfig(latent_dim=32, n_heads=2, n_layers=2, ff_size=64, dropout=0.1, attn_dropout=0.1,
                          token_emb_dim=16, text_head_layers=1, text_head_heads=2, text_head_ff=64)
ENC = ToyTextEncoder(dim=24, max_words=8)
CODES = 40


def _model(**kw) -> InterMTransformer:
    torch.manual_seed(0)
    m = InterMTransformer(dataclasses.replace(SMALL, **kw), CODES, ENC.dim).eval()
    # the AdaLN gates start at zero; give them weights so that every branch matters in these tests
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "linear" in name and ("ada" in name):
                p.normal_(0, 0.05)
    return m


def _batch(b=2, t=6):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, CODES, (b, 2, 5, t), generator=g)
    return ids, torch.full((b,), t), ENC.encode(["one person pushes the other"] * b)


@pytest.mark.parametrize("mode,expected", [("none", 54_272_896), ("every_block", 60_777_472)])
def test_paper_parameter_counts(mode, expected):
    cfg = dataclasses.replace(paper().transformer, word_xattn=mode)
    n = sum(p.numel() for p in InterMTransformer(cfg, 1024, 768).parameters())
    print(f"paper transformer ({mode}) parameters: {n:,}")
    assert abs(n - expected) / expected < 0.02


def test_forward_shape_and_special_ids():
    m = _model()
    ids, lengths, text = _batch()
    assert (m.mask_id, m.pad_id) == (CODES, CODES + 1)
    ids[0, :, :, 0] = m.mask_id
    logits = m(ids, lengths, text, torch.tensor([False, True]))
    assert logits.shape == (2, 2, 5, 6, CODES) and torch.isfinite(logits).all()


def test_padding_positions_do_not_leak():
    m = _model()
    ids, _, text = _batch()
    lengths = torch.tensor([4, 6])
    a = m(ids, lengths, text, torch.zeros(2, dtype=torch.bool))
    ids2 = ids.clone()
    ids2[0, :, :, 4:] = m.pad_id
    b = m(ids2, lengths, text, torch.zeros(2, dtype=torch.bool))
    assert torch.allclose(a[0, :, :, :4], b[0, :, :, :4], atol=1e-5)


@pytest.mark.parametrize("mode", ["none", "every_block"])
def test_swapping_the_persons_swaps_the_output(mode):
    # Nothing in the model tells the two persons apart (one positional encoding, shared weights), so no text can
    # say which output person acts: what --person-order-words runs into (docs/design-notes.md, "Canonicalisation").
    m = _model(word_xattn=mode, static_words=False)
    ids, lengths, text = _batch()
    keep = torch.zeros(2, dtype=torch.bool)
    swapped = m(ids.flip(1), lengths, text, keep).flip(1)
    torch.testing.assert_close(swapped, m(ids, lengths, text, keep), atol=1e-5, rtol=1e-5)


def test_a_person_embedding_starts_as_the_model_without_it_and_can_then_tell_the_persons_apart():
    plain, grown = _model(), _model(person_embedding=True)
    missing, unexpected = grown.load_state_dict(plain.state_dict(), strict=False)
    assert missing == ["person_emb"] and not unexpected and grown.grown_parameters() == ("person_emb",)
    ids, lengths, text = _batch()
    keep = torch.zeros(2, dtype=torch.bool)
    assert torch.equal(plain(ids, lengths, text, keep), grown(ids, lengths, text, keep))
    with torch.no_grad():
        grown.person_emb.normal_(0, 0.5)
    swapped = grown(ids.flip(1), lengths, text, keep).flip(1)
    assert (swapped - grown(ids, lengths, text, keep)).abs().max() > 1e-3  # the slots now differ


def _read(texts: list[str]):
    from intermask.data.person_order import person_views

    return person_views(ENC.encode(texts), texts, ENC.encode)


@pytest.mark.parametrize("mode", ["every_block", "pre"])
def test_with_person_words_each_person_reads_the_first_person_as_itself(mode):
    plain, m = _model(word_xattn=mode), _model(word_xattn=mode, person_words=True)
    m.load_state_dict(plain.state_dict())  # no weights of its own: any checkpoint loads
    ids, lengths, _ = _batch()
    keep = torch.zeros(2, dtype=torch.bool)
    # A text that names no order is read alike by both persons: the model of before.
    same = _read(["one person pushes the other", "two people hug"])
    assert same.swapped is None
    torch.testing.assert_close(m(ids, lengths, same, keep), plain(ids, lengths, same, keep), atol=1e-5, rtol=1e-5)
    # Naming the order: swapping the persons and the order words together swaps the output exactly ...
    # (the toy encoder reads a bag of words, so the texts name one person only)
    named = _read(["the first person waves", "two people hug"])
    flipped = _read(["the second person waves", "two people hug"])
    torch.testing.assert_close(m(ids.flip(1), lengths, flipped, keep).flip(1), m(ids, lengths, named, keep),
                               atol=1e-5, rtol=1e-5)
    # ... while swapping the persons alone does not: the order words now say which person is which.
    assert (m(ids.flip(1), lengths, named, keep).flip(1) - m(ids, lengths, named, keep))[0].abs().max() > 1e-3
    # The second sample of the batch names no order: its output is that of the model without person words.
    torch.testing.assert_close(m(ids, lengths, named, keep)[1], plain(ids, lengths, named, keep)[1],
                               atol=1e-5, rtol=1e-5)
    # Guidance's unconditional branch reads no words at all, whichever person.
    drop = torch.ones(2, dtype=torch.bool)
    torch.testing.assert_close(m(ids, lengths, named, drop), plain(ids, lengths, same, drop), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode", ["every_block", "pre"])
def test_unconditional_branch_ignores_sentence_and_words(mode):
    m = _model(word_xattn=mode)
    ids, lengths, _ = _batch()
    t1 = ENC.encode(["a person hugs the other", "two people dance"])
    t2 = ENC.encode(["someone kicks a ball hard", "they shake hands slowly"])
    drop = torch.ones(2, dtype=torch.bool)
    assert torch.allclose(m(ids, lengths, t1, drop), m(ids, lengths, t2, drop), atol=1e-6)
    # conditional: changing only the word features (same sentence vector) changes the output
    keep = torch.zeros(2, dtype=torch.bool)
    t3 = TextFeatures(t1.sentence, t2.words, t2.mask)
    assert (m(ids, lengths, t1, keep) - m(ids, lengths, t3, keep)).abs().max() > 1e-4


def test_none_mode_has_no_word_path():
    m = _model(word_xattn="none")
    assert m.word_proj is None and m.pre_word is None
    with pytest.raises(InterMaskError, match="word_xattn must be one of"):
        InterMTransformer(dataclasses.replace(SMALL, word_xattn="later"), CODES, ENC.dim)


@pytest.mark.parametrize("mode", ["none", "every_block"])
def test_blocks_appended_past_a_checkpoints_depth_leave_the_output_as_it_was(mode):
    shallow = _model(word_xattn=mode)
    deep = InterMTransformer(dataclasses.replace(SMALL, word_xattn=mode, n_layers=SMALL.n_layers + 1), CODES,
                             ENC.dim).eval()
    source = shallow.state_dict()
    missing, unexpected = deep.load_state_dict(deep.grown_state(source), strict=False)
    assert not unexpected and missing and all(k.startswith(f"blocks.{SMALL.n_layers}.") for k in missing)
    assert deep.grown_parameters(source.keys()) == (f"blocks.{SMALL.n_layers}.",)
    assert shallow.grown_parameters(source.keys()) == () and shallow.grown_state(source) is source
    # A checkpoint that lacks part of a block it has is not a shallower model: nothing of that block may be absent.
    partial = [k for k in source if not k.startswith(f"blocks.{SMALL.n_layers - 1}.ffn.")]
    assert not any(k.startswith(f"blocks.{SMALL.n_layers - 1}.") for k in deep.grown_parameters(partial))
    ids, lengths, text = _batch()
    keep = torch.tensor([True, False])
    assert torch.equal(shallow(ids, lengths, text, keep), deep(ids, lengths, text, keep))
    with torch.no_grad():  # once its gates open, the new block takes part
        deep.blocks[-1].ada_split.linear.weight.normal_(0, 0.05)
    assert (deep(ids, lengths, text, keep) - shallow(ids, lengths, text, keep)).abs().max() > 1e-4


def test_static_words_start_as_the_model_without_them_and_can_then_tell_words_apart():
    plain, grown = _model(), _model(static_words=True)
    missing, unexpected = grown.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(missing) == ["static_proj.bias", "static_proj.weight"] and not unexpected
    assert all(k.startswith(grown.grown_parameters()) for k in missing) and plain.grown_parameters() == ()
    ids, lengths, text = _batch()
    keep = torch.zeros(2, dtype=torch.bool)
    assert torch.equal(plain(ids, lengths, text, keep), grown(ids, lengths, text, keep))
    # Once trained away from zero, the static vectors alone (same contextual words and sentence) change the output.
    with torch.no_grad():
        grown.static_proj.weight.normal_(0, 0.2)
    other = TextFeatures(text.sentence, text.words, text.mask, torch.randn_like(text.static))
    assert (grown(ids, lengths, text, keep) - grown(ids, lengths, other, keep)).abs().max() > 1e-4
    with pytest.raises(InterMaskError, match="static word vectors"):
        grown(ids, lengths, TextFeatures(text.sentence, text.words, text.mask), keep)
    with pytest.raises(InterMaskError, match="needs word_xattn"):
        _model(word_xattn="none", static_words=True)


def test_a_plain_training_forward_works_outside_a_keyed_scope():
    m = _model().train()
    ids, lengths, text = _batch()
    logits = m(ids, lengths, text, torch.zeros(2, dtype=torch.bool))
    logits.logsumexp(-1).mean().backward()  # dropout from torch's generator, as nn.Dropout would draw
    assert m.token_emb.weight.grad is not None


def test_inputs_longer_than_the_config_leave_the_module_unchanged():
    m = InterMTransformer(dataclasses.replace(SMALL, max_motion_frames=16), CODES, ENC.dim).eval()  # 4 tokens
    pe = m.pe
    ids, lengths, text = _batch(b=1, t=6)
    with torch.no_grad():
        long = m(ids, lengths, text, torch.zeros(1, dtype=torch.bool))
    assert m.pe is pe and m.pe.shape[1] == 4  # concurrent requests share the module: forward never mutates it
    big = InterMTransformer(SMALL, CODES, ENC.dim).eval()
    big.load_state_dict(m.state_dict())
    with torch.no_grad():
        assert torch.allclose(long, big(ids, lengths, text, torch.zeros(1, dtype=torch.bool)), atol=1e-6)


def test_cfg_pair_in_one_batch_equals_two_passes():
    m = _model()
    ids, lengths, text = _batch(b=1)
    both = m(ids.repeat(2, 1, 1, 1), lengths.repeat(2), TextFeatures.cat([text, text]),
             torch.tensor([False, True]))
    c = m(ids, lengths, text, torch.tensor([False]))
    u = m(ids, lengths, text, torch.tensor([True]))
    assert torch.allclose(both[0], c[0], atol=1e-5) and torch.allclose(both[1], u[0], atol=1e-5)


def test_logits_at_a_few_tokens_equal_the_full_forward_there():
    m = _model()
    ids, lengths, text = _batch()
    conditioning = m.condition(text, torch.tensor([False, True]))
    full = m(ids, lengths, None, None, conditioning=conditioning).reshape(2, -1, CODES)  # (B, 2·G·T', codes)
    rows, positions = torch.tensor([0, 0, 1]), torch.tensor([3, 59, 17])
    assert torch.allclose(m.logits_at(ids, lengths, conditioning, rows, positions), full[rows, positions],
                          atol=1e-5)


def test_masking_statistics():
    b, t = 4000, 8
    valid = torch.ones(b, 2, 5, t, dtype=torch.bool)
    keys = kr.sample_keys(0, 0, range(b))
    mask, inter = choose_masks(valid, keys, 0.2)
    assert abs(float(inter.float().mean()) - 0.2) < 0.03
    im = mask[inter]
    per_person = im.flatten(2).all(2)  # exactly one person fully masked, the other visible
    assert bool((per_person.sum(1) == 1).all()) and not bool(im.flatten(2).any(2).all(1).any())
    both = per_person.float().mean(0)
    assert abs(float(both[0]) - 0.5) < 0.07
    ratio = mask[~inter].flatten(1).float().mean(1)
    assert abs(float(ratio.mean()) - 2 / math.pi) < 0.03  # E[cos(πu/2)]
    assert float(ratio.min()) > 0  # at least one masked token
    ids = torch.randint(0, CODES, valid.shape)
    x = bert_corrupt(ids, mask, keys, CODES, CODES)
    m = mask
    frac_mask = float((x[m] == CODES).float().mean())
    frac_same = float((x[m] == ids[m]).float().mean())
    assert abs(frac_mask - 0.792) < 0.01 and abs(frac_same - (0.108 + 0.1 / CODES)) < 0.01
    assert torch.equal(x[~m], ids[~m])
    # padding is never masked
    lengths = torch.randint(1, t + 1, (b,))
    v2 = (torch.arange(t)[None] < lengths[:, None])[:, None, None].expand(-1, 2, 5, -1)
    assert not bool(choose_masks(v2, keys, 0.2)[0][~v2].any())


def test_training_loss_is_keyed_and_split_invariant():
    m = _model(step_unroll=1.0, cond_drop_prob=0.5, interaction_mask_prob=0.5)
    m.train()
    ids, lengths, text = _batch(b=4)
    keys = kr.sample_keys(0, 7, range(4))
    full = m.training_loss(ids, lengths, text, keys)
    again = m.training_loss(ids, lengths, text, keys)
    assert torch.equal(full["loss"], again["loss"])
    # the two halves of the batch, each holding its own keys, make the same loss once weighted by counts
    parts = [m.training_loss(ids[s], lengths[s], text.index(s), keys[s]) for s in (slice(0, 2), slice(2, 4))]
    n = [float(p["masked_tokens"]) for p in parts]
    # ce1 is per-pass; compare the first pass (global mean over masked tokens)
    combined = (parts[0]["ce1"] * n[0] + parts[1]["ce1"] * n[1]) / (n[0] + n[1])
    assert abs(float(combined) - float(full["ce1"])) < 1e-5
    assert full["loss"].requires_grad and 0 <= float(full["acc"]) <= 1


def test_touch_weights_scale_the_loss_of_their_time_steps_only():
    ids, lengths, text = _batch(b=4)
    keys = kr.sample_keys(0, 7, range(4))
    off, on = _model(cond_drop_prob=0.0), _model(cond_drop_prob=0.0, touch_weight=2.0)
    for m in (off, on):
        m.train()
    torch.manual_seed(5)  # dropout draws the same in every call below
    plain = off.training_loss(ids, lengths, text, keys)
    t = ids.shape[-1]
    torch.manual_seed(5)
    assert torch.allclose(on.training_loss(ids, lengths, text, keys, torch.zeros(4, t))["loss"], plain["loss"])
    torch.manual_seed(5)
    everywhere = on.training_loss(ids, lengths, text, keys, torch.ones(4, t))
    assert torch.allclose(everywhere["loss"], 3 * plain["loss"])  # 1 + 2·1 on every token
    assert torch.equal(everywhere["acc"], plain["acc"])  # accuracy stays a plain count
    torch.manual_seed(5)
    one_step = torch.zeros(4, t)
    one_step[:, 2] = 1.0
    some = on.training_loss(ids, lengths, text, keys, one_step)["loss"]
    assert plain["loss"] < some < everywhere["loss"]
    # a model trained without the weights ignores them
    torch.manual_seed(5)
    assert torch.allclose(off.training_loss(ids, lengths, text, keys, torch.ones(4, t))["loss"], plain["loss"])
