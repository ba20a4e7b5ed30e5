"""Masked iterative decoding with a stand-in model whose logits we control."""
import torch

from intermask.sampling import decode_rounds, masked_decode, top_k_filter, valid_token_mask
from intermask.settings import SamplingSettings
from intermask.text.base import ToyTextEncoder

CODES = 16


class PeakedModel(torch.nn.Module):
    """Logits that prefer code (position mod CODES) by ``margin``; the unconditional branch prefers code 0.

    Records every call so tests can check what the loop fed it.
    """
    mask_id, pad_id = CODES, CODES + 1
    groups = 5

    def __init__(self, margin: float = 2.0):
        super().__init__()
        self.margin = margin
        self.calls = []

    def condition(self, text, drop):
        return drop

    def forward(self, ids, token_lengths, text, drop_cond, conditioning=None):
        drop = conditioning
        self.calls.append((ids.clone(), drop.clone()))
        b, _, g, t = ids.shape
        pos = torch.arange(2 * g * t).reshape(2, g, t) % CODES
        logits = torch.zeros(b, 2, g, t, CODES)
        logits.scatter_(-1, pos.expand(b, -1, -1, -1)[..., None], self.margin)
        logits[drop, ..., 0] += self.margin  # the null condition has its own favourite
        return logits

    def logits_at(self, ids, token_lengths, conditioning, rows, positions):
        logits = self(ids, token_lengths, None, None, conditioning=conditioning)
        return logits.reshape(ids.shape[0], -1, CODES)[rows, positions]


def decode(model, seed=0, **kw):
    text = ToyTextEncoder().encode(["a hug", "a push"])
    settings = SamplingSettings(**{"time_steps": 6, "cond_scale": 2.0, "topk_ratio": 0.0, "temperature": 1.0, **kw})
    return masked_decode(model, text, torch.tensor([5, 3]), 5, settings, torch.Generator().manual_seed(seed))


def test_greedy_decoding_follows_guided_logits_and_respects_lengths():
    ids = decode(PeakedModel(), temperature=0.0)
    valid = valid_token_mask(torch.tensor([5, 3]), 5, PeakedModel.groups)
    expected = torch.arange(50).reshape(2, 5, 5) % CODES
    assert torch.equal(ids[0], expected)
    assert torch.equal(ids[1][valid[1]], expected[valid[1]]) and (ids[1][~valid[1]] == -1).all()


def test_cfg_runs_both_branches_in_one_batched_forward():
    model = PeakedModel()
    decode(model, time_steps=4)
    assert len(model.calls) == 4
    ids, drop = model.calls[0]
    assert ids.shape[0] == 4 and drop.tolist() == [False, False, True, True]
    assert (ids == model.mask_id).any() and not (ids == model.pad_id)[:, :, :, :3].any()


def test_same_seed_same_codes_and_seeds_differ():
    model = PeakedModel(margin=0.5)
    a, b, c = decode(model, seed=1), decode(model, seed=1), decode(model, seed=2)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_temperature_changes_the_distribution():
    model = PeakedModel(margin=2.0)
    expected = torch.arange(50).reshape(2, 5, 5) % CODES

    def agreement(temperature):
        hits = [(decode(model, seed=s, temperature=temperature, cond_scale=1.0)[0] == expected).float().mean() for s in range(8)]
        return float(torch.stack(hits).mean())

    cold, warm, hot = agreement(0.2), agreement(1.0), agreement(4.0)
    assert cold > 0.95 and cold > warm > hot  # hotter sampling strays further from the favourite code


def test_fixed_tokens_are_kept_and_never_masked():
    model = PeakedModel(margin=0.3)
    fixed = torch.full((2, 2, 5, 5), -1)
    fixed[:, 0] = 7
    text = ToyTextEncoder().encode(["a", "b"])
    ids = masked_decode(model, text, torch.tensor([5, 5]), 5, SamplingSettings(time_steps=5),
                        torch.Generator().manual_seed(0), fixed=fixed)
    assert (ids[:, 0] == 7).all()
    for fed, _ in model.calls:
        assert (fed[:, 0] == 7).all()  # person A was never re-masked


def test_top_k_filter_keeps_the_right_count():
    logits = torch.randn(3, 100)
    kept = torch.isfinite(top_k_filter(logits, 0.9)).sum(-1)
    assert kept.tolist() == [10, 10, 10]
    assert torch.isfinite(top_k_filter(logits, 0.0)).all()


def test_long_maps_get_proportionally_more_rounds():
    settings = SamplingSettings(time_steps=20)
    # 3 s of both persons (220 tokens) and anything up to 6.4 s decode in the rounds asked for; 10 s (740) in more.
    assert [settings.steps_for(n) for n in (220, SamplingSettings.STEP_TOKENS, 740)] == [20, 20, 31]
    assert SamplingSettings(time_steps=4).steps_for(740) == 7  # the user's choice scales, it is not overridden
    assert settings.for_reaction().steps_for(5 * 75) == 10  # a 10 s reaction fills only B: its 10 rounds

    text = ToyTextEncoder().encode(["a long walk"])
    rounds = []
    model = PeakedModel()
    length = SamplingSettings.STEP_TOKENS // (2 * model.groups) * 2  # twice the map the rounds are meant for
    masked_decode(model, text, torch.tensor([length]), length, SamplingSettings(time_steps=3),
                  torch.Generator().manual_seed(0), progress=lambda i, n: rounds.append(n))
    assert rounds == [6] * 6 and len(model.calls) == 6
    # Given tokens do not count: with person A fixed the same map decodes in the rounds asked for.
    fixed = torch.full((1, 2, model.groups, length), -1)
    fixed[:, 0] = 1
    rounds.clear()
    masked_decode(model, text, torch.tensor([length]), length, SamplingSettings(time_steps=3),
                  torch.Generator().manual_seed(0), fixed=fixed, progress=lambda i, n: rounds.append(n))
    assert rounds == [3] * 3


def test_a_second_pass_decodes_the_second_person_again_knowing_the_first():
    one = decode(PeakedModel(margin=0.3), seed=3)
    model = PeakedModel(margin=0.3)
    rounds = []
    text = ToyTextEncoder().encode(["a hug", "a push"])
    settings = SamplingSettings(time_steps=6, topk_ratio=0.0, second_pass=4)
    two = masked_decode(model, text, torch.tensor([5, 3]), 5, settings, torch.Generator().manual_seed(3),
                        progress=lambda i, n: rounds.append((i, n)))
    assert rounds == [(i, 10) for i in range(1, 11)]  # 6 rounds for both persons, then 4 for the second
    assert torch.equal(two[:, 0], one[:, 0])  # the first person is the first pass's, untouched
    assert not torch.equal(two[:, 1], one[:, 1])  # the second is sampled again
    assert ((two[1] == -1) == (one[1] == -1)).all()  # padding stays padding
    for fed, _ in model.calls[6:]:  # (both guidance branches in one batch: the first two rows are the samples)
        held = fed[:2, 0]
        assert torch.equal(held.masked_fill(held == model.pad_id, -1), one[:, 0])  # A held while B is redone
    assert (model.calls[6][0][0, 1] == model.mask_id).all()  # the second pass starts B from scratch


def test_no_second_pass_where_the_first_person_is_given():
    fixed = torch.full((2, 2, 5, 5), -1)
    fixed[:, 0] = 7
    text = ToyTextEncoder().encode(["a", "b"])
    runs = []
    for second_pass in (0, 4):
        model = PeakedModel(margin=0.3)
        settings = SamplingSettings(time_steps=5, second_pass=second_pass)
        ids = masked_decode(model, text, torch.tensor([5, 5]), 5, settings, torch.Generator().manual_seed(0),
                            fixed=fixed)
        runs.append((ids, len(model.calls)))
    assert torch.equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1] == 5  # a reaction is decoded once


def test_decode_rounds_counts_both_passes_before_decoding():
    settings = SamplingSettings(time_steps=20, second_pass=10)
    both = torch.ones(1, 2, 5, 48, dtype=torch.bool)  # 6.4 s of both persons free
    assert decode_rounds(settings, both) == (20, 10)
    # 10 s: the joint pass scales up; the second person alone (375 tokens) is within the tokens 20 rounds are for.
    assert decode_rounds(settings, torch.ones(1, 2, 5, 75, dtype=torch.bool)) == (32, 10)
    reaction = both.clone()
    reaction[:, 0] = False  # A given: B decoded once, in the rounds asked for
    assert decode_rounds(settings, reaction) == (20, 0)
    assert decode_rounds(SamplingSettings(), both) == (20, 0)  # off by default
