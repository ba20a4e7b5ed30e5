"""The 2D VQ-VAE: shapes, graph conv, codebook behaviour, losses, keyed randomness."""
import dataclasses
import math

import pytest
import torch

from intermask import skeleton as sk
from intermask.config import VQConfig, paper
from intermask.errors import InterMaskError
from intermask.models import keyed_random as kr
from intermask.models.vqvae import JOINT_ORDERS, VQVAE, GraphConv, from_joint_map, to_joint_map

SMALL = VQConfig(nb_code=32, code_dim=16, width=16, dropout=0.1)


def _model(**kw) -> VQVAE:
    torch.manual_seed(0)
    return VQVAE(dataclasses.replace(SMALL, **kw))


def test_paper_parameter_count():
    n = sum(p.numel() for p in VQVAE(paper().vq).parameters())
    print(f"paper VQ-VAE parameters: {n:,}")
    assert abs(n - 43_031_208) / 43_031_208 < 0.02


def test_encode_decode_shapes():
    vq = _model().eval()
    x = torch.randn(3, 64, 262)
    ids = vq.encode(x)
    assert ids.shape == (3, 5, 16) and ids.dtype == torch.long
    assert vq.decode(ids).shape == (3, 64, 262)
    assert vq.encode(torch.randn(1, 30, 262)).shape == (1, 5, 7)  # T//4 tokens


def test_autoencode_skips_only_the_codebook():
    vq = _model().eval()
    x = torch.randn(2, 32, 262)
    out = vq.autoencode(x)
    assert out.shape == x.shape
    ids = vq.encode(x)
    latents = vq.encoder(to_joint_map(x))  # (B, D, groups, T'): what the codebook would replace
    torch.testing.assert_close(out, vq.decode_latents(latents.flatten(2).transpose(1, 2), ids.shape[-1]))
    assert not torch.allclose(out, vq.decode(ids))  # a random codebook is far from the latents


def test_joint_map_round_trip_keeps_all_but_contacts():
    x = torch.randn(2, 8, 262)
    back = from_joint_map(to_joint_map(x))
    assert torch.equal(back[..., :258], x[..., :258]) and (back[..., 258:] == 0).all()


def test_limbs_order_gives_the_trunk_and_each_leg_a_token_group():
    # Each of the 5 groups is centred on 4 neighbouring places of the joint axis (the last on 6).
    names = [[sk.JOINT_NAMES[j] for j in JOINT_ORDERS["limbs"][a:b]] for a, b in ((0, 4), (4, 8), (8, 12), (12, 22))]
    assert names[0] == ["pelvis", "spine1", "spine2", "spine3"]
    assert names[1] == ["left_hip", "left_knee", "left_ankle", "left_foot"]
    assert names[2] == ["right_hip", "right_knee", "right_ankle", "right_foot"]
    assert names[3] == list(sk.JOINT_NAMES[12:])  # neck, collars, head, arms: as in SMPL's order


@pytest.mark.parametrize("order", list(JOINT_ORDERS))
def test_joint_map_in_any_order_puts_each_joint_in_its_place_and_back(order):
    x = torch.randn(2, 8, 262)
    m = to_joint_map(x, JOINT_ORDERS[order])
    smpl = to_joint_map(x)
    for place, joint in enumerate(JOINT_ORDERS[order]):
        assert torch.equal(m[:, :, place], smpl[:, :, joint])
    assert torch.equal(from_joint_map(m, JOINT_ORDERS[order]), from_joint_map(smpl))


def test_graph_conv_in_another_order_is_the_same_conv_on_reordered_joints():
    order = JOINT_ORDERS["limbs"]
    torch.manual_seed(0)
    smpl = GraphConv(4, 5)
    limbs = GraphConv(4, 5, order=order)
    limbs.load_state_dict(smpl.state_dict())
    x = torch.randn(2, 4, 22, 3)
    torch.testing.assert_close(limbs(x[:, :, list(order)]), smpl(x)[:, :, list(order)])


def test_vq_in_limbs_order_is_a_vq_of_the_same_size_and_an_unknown_order_is_refused():
    smpl, limbs = _model(), _model(joint_order="limbs")
    assert sum(p.numel() for p in smpl.parameters()) == sum(p.numel() for p in limbs.parameters())
    x = torch.randn(2, 32, 262)
    assert limbs.eval().decode(limbs.encode(x)).shape == x.shape
    assert not torch.allclose(limbs.autoencode(x), smpl.eval().autoencode(x))  # same weights, other joints
    with pytest.raises(InterMaskError, match="joint_order"):
        _model(joint_order="alphabetical")


def test_graph_conv_is_per_frame_and_uses_neighbours():
    torch.manual_seed(0)
    conv = GraphConv(4, 5)
    x = torch.randn(2, 4, 22, 6)
    y = conv(x)
    # frame 3 of sample 1 alone gives the same output: no edges across frames or samples
    assert torch.allclose(conv(x[1:, :, :, 3:4])[0, :, :, 0], y[1, :, :, 3], atol=1e-6)
    # changing joint 0 (pelvis) changes its neighbour joint 1 (left hip) but not joint 15 (head)
    x2 = x.clone()
    x2[:, :, 0] += 1.0
    y2 = conv(x2)
    assert (y2[:, :, 1] - y[:, :, 1]).abs().max() > 1e-4
    assert torch.allclose(y2[:, :, 15], y[:, :, 15])
    # the official bug: only frame 0 sees neighbours — of every sample, as when the official code decodes
    # one motion per batch, so a sample's output does not depend on its place in the batch
    bug = GraphConv(4, 5, official_bug=True)
    bug.load_state_dict(conv.state_dict())
    yb = bug(x2)
    for i in range(2):
        assert (yb[i, :, 1, 0] - y2[i, :, 1, 0]).abs().max() < 1e-6
        assert (yb[i, :, 1, 2] - y2[i, :, 1, 2]).abs().max() > 1e-4
    torch.testing.assert_close(bug(x2[1:])[0], yb[1])


def test_training_forward_losses_and_codebook_usage():
    vq = _model()
    x = torch.randn(8, 32, 262)
    opt = torch.optim.AdamW(vq.parameters(), 1e-3)
    first = None
    for step in range(8):
        with kr.scope(kr.sample_keys(0, step, range(8))):
            out = vq(x)
        out["loss"].backward()
        opt.step()
        opt.zero_grad()
        first = first if first is not None else float(out["loss"].detach())
    for k in ("loss_rec", "loss_explicit", "loss_vel", "loss_bn", "loss_geo", "loss_fc", "loss_commit", "loss_hands",
              "loss_hand_gap"):
        assert torch.isfinite(out[k]), k
    assert float(out["loss"].detach()) < first  # it learns on a fixed batch
    assert bool(vq.quantizer.initted)
    # codebook usage: with init from the batch and dead-code reset, many codes are in use
    vq.eval()
    used = vq.encode(x).unique().numel()
    print(f"codes used on one batch: {used}/32, perplexity {float(out['perplexity']):.1f}")
    assert used >= 3 and float(out["perplexity"]) > 8


def test_the_wrist_term_is_squared_metres_at_the_wrists_only():
    from intermask.models.vq_losses import reconstruction_losses
    from intermask.motion.features import POS

    mean, std = torch.zeros(262), torch.full((262,), 0.5)  # de-normalised = normalised × 0.5
    gt = torch.randn(2, 8, 262)
    pred = gt.clone()
    wrists = pred[..., POS].reshape(2, 8, 22, 3)
    wrists[:, :, 21, 0] += 0.2  # right wrist 0.1 m off, every frame
    pred[..., POS] = wrists.reshape(2, 8, 66)
    assert float(reconstruction_losses(pred, gt, mean, std)["loss_hands"]) == pytest.approx(0.1 ** 2 / 2)
    elbow = gt.clone()
    elbow[..., POS.start + 19 * 3] += 0.2  # an elbow error is left to the other terms
    assert float(reconstruction_losses(elbow, gt, mean, std)["loss_hands"]) == 0.0


def test_the_hand_gap_term_counts_hands_that_should_meet_and_ignores_a_shared_offset():
    from intermask.models.vq_losses import HAND_GAP_SCALE, hand_gap_error

    gt = torch.zeros(1, 4, 22, 3)  # metres; the wrists (20, 21) touch in frames 0-1 and are 1 m apart in 2-3
    gt[:, 2:, 20, 0] = 1.0
    apart = gt.clone()
    apart[..., 20, 0] += 0.2  # the left wrist 20 cm off, every frame
    per_frame = hand_gap_error(apart, gt) * 4
    touching, far = 2 * 0.2, 2 * 0.2 * math.exp(-1.0 / HAND_GAP_SCALE)
    assert float(per_frame) == pytest.approx(touching + far, rel=1e-4)  # the frames where they meet dominate
    shifted = gt + torch.tensor([0.3, -0.1, 0.2])  # both hands (the whole body) moved together
    assert float(hand_gap_error(shifted, gt)) == pytest.approx(0.0, abs=1e-5)


def test_the_touch_term_weighs_wrist_errors_where_the_weights_say_the_partner_is_near():
    from intermask.models.vq_losses import touch_error

    gt = torch.zeros(1, 4, 22, 3)  # metres
    pred = gt.clone()
    pred[..., 21, 2] += 0.05  # the right wrist 5 cm short in every frame
    weights = torch.zeros(1, 4, 2)
    assert float(touch_error(pred, gt, weights)) == 0.0  # far from the partner: the wrist term's business
    weights[0, 1, 1] = 1.0  # in frame 1 the right wrist is on the partner
    assert float(touch_error(pred, gt, weights)) == pytest.approx(0.05 / 8)  # mean over 4 frames × 2 wrists
    weights[0, 1] = torch.tensor([1.0, 0.0])  # ... the left one instead, which is where it should be
    assert float(touch_error(pred, gt, weights)) == pytest.approx(0.0, abs=1e-6)


def test_touch_weights_enter_the_loss_only_when_given():
    x = torch.randn(2, 32, 262)
    with kr.scope(kr.sample_keys(0, 0, range(2))):
        plain = _model(touch=3.0)(x)
    with kr.scope(kr.sample_keys(0, 0, range(2))):
        touched = _model(touch=3.0)(x, torch.ones(2, 33, 2))  # longer than the frames kept: cropped with them
    plain, touched = ({k: float(v.detach()) for k, v in o.items() if k.startswith("loss")} for o in (plain, touched))
    assert plain["loss_touch"] == 0.0 and touched["loss_touch"] > 0
    assert touched["loss"] == pytest.approx(plain["loss"] + 3.0 * touched["loss_touch"], rel=1e-5)


def _trained(vq: VQVAE, x: torch.Tensor, steps: int = 3) -> VQVAE:
    opt = torch.optim.AdamW([p for p in vq.parameters() if p.requires_grad], 1e-2)
    for step in range(steps):
        with kr.scope(kr.sample_keys(0, step, range(len(x)))):
            vq(x)["loss"].backward()
        opt.step()
        opt.zero_grad()
    return vq


def _narrow_and_widened(x: torch.Tensor, **wider) -> tuple[VQVAE, VQVAE]:
    """A trained VQ and a wider one loaded from its weights the way --init-from does."""
    from train.common import widened

    narrow = _trained(_model(dropout=0.0), x)
    wide = _model(dropout=0.0, **wider)
    state, fresh = narrow.state_dict(), wide.state_dict()
    wide.load_state_dict({k: widened(v, fresh[k]) if v.shape != fresh[k].shape else v for k, v in state.items()})
    return narrow, wide


def test_a_wider_decoder_starts_as_the_narrow_one_and_keeps_every_code():
    x = torch.randn(4, 32, 262)
    narrow, wide = _narrow_and_widened(x, decoder_width=40)
    assert wide.decoder.post.weight.shape == (40, 40, 3, 3) and wide.encoder.out.weight.shape == (16, 16, 3, 3)
    narrow.eval(), wide.eval()
    ids = narrow.encode(x)
    torch.testing.assert_close(wide.decode(ids), narrow.decode(ids), rtol=0, atol=1e-5)

    # Decoder-only training: the decoder learns, the encoder and the codebook (which EMA would move) do not.
    wide.freeze_codes()
    before = {k: v.clone() for k, v in wide.state_dict().items()}
    _trained(wide.train(), x)
    after = wide.state_dict()
    assert not wide.quantizer.training and not wide.encoder.training and wide.decoder.training
    assert all(torch.equal(before[k], after[k]) for k in before if not k.startswith("decoder."))
    assert not torch.equal(before["decoder.post.weight"], after["decoder.post.weight"])
    # The new channels join in: the block where old outputs read new inputs no longer is all zero.
    assert after["decoder.post.weight"][:16, 16:].abs().max() > 0
    torch.testing.assert_close(wide.eval().encode(x), ids, rtol=0, atol=0)


def test_a_wider_encoder_starts_with_the_same_codes():
    x = torch.randn(4, 32, 262)
    narrow, wide = _narrow_and_widened(x, width=24)
    narrow.eval(), wide.eval()
    torch.testing.assert_close(wide.encode(x), narrow.encode(x), rtol=0, atol=0)
    torch.testing.assert_close(wide(x)["recon"], narrow(x)["recon"], rtol=0, atol=1e-5)


def test_a_larger_codebook_splits_the_old_codes_and_starts_where_they_were():
    from intermask.models.quantizer import split_codes

    x = torch.randn(4, 32, 262)
    small = _trained(_model(dropout=0.0), x).eval()
    large = _model(dropout=0.0, nb_code=48)
    large.load_state_dict(large.grown_state(small.state_dict()))
    large.eval()
    old, new = small.quantizer, large.quantizer
    # The 16 most used codes gained a twin each: the pairs sit a thousandth of a code's length apart, share the
    # EMA count, and the EMA mean (code_sum / code_count) is still the code. The other 16 stay as they were.
    twins = old.code_count.argsort(descending=True, stable=True)[:16]
    kept = torch.ones(32, dtype=torch.bool).index_fill(0, twins, False)
    assert torch.equal(new.codebook[:32][kept], old.codebook[kept])
    gap = (new.codebook[32:] - new.codebook[twins]).norm(dim=1) / old.codebook[twins].norm(dim=1)
    torch.testing.assert_close(gap, torch.full((16,), 2e-3), rtol=1e-3, atol=0)
    torch.testing.assert_close(new.code_count[32:] + new.code_count[twins], old.code_count[twins])
    torch.testing.assert_close(new.code_sum / new.code_count[:, None], new.codebook)
    # Decoding barely moves, and every old id still decodes to (nearly) its old code.
    torch.testing.assert_close(large(x)["recon"], small(x)["recon"], rtol=0, atol=1e-2)
    ids = small.encode(x)
    torch.testing.assert_close(large.decode(ids), small.decode(ids), rtol=0, atol=1e-2)
    with pytest.raises(InterMaskError, match="can grow to 32-64 codes"):
        split_codes(small.state_dict(), 80, prefix="quantizer.")


def test_widening_refuses_to_shrink():
    from train.common import widened

    with pytest.raises(InterMaskError, match="cannot widen"):
        widened(torch.zeros(8, 8), torch.zeros(4, 8))


def test_dead_codes_are_reset_to_batch_vectors():
    vq = _model()
    x = torch.randn(4, 32, 262)
    with kr.scope(kr.sample_keys(0, 0, range(4))):
        vq(x)
    q = vq.quantizer
    q.code_count[:5] = 0.0  # make five codes dead
    before = q.codebook[:5].clone()
    with kr.scope(kr.sample_keys(0, 1, range(4))), torch.no_grad():
        vq(x)
    assert not torch.allclose(q.codebook[:5], before)


def test_outside_a_keyed_scope_training_draws_from_torch_like_any_module():
    x = torch.randn(2, 32, 262)
    torch.manual_seed(5)
    a = _model(dropout=0.5)(x)
    torch.manual_seed(5)
    b = _model(dropout=0.5)(x)
    assert torch.equal(a["recon"], b["recon"])  # the global seed decides, as for nn.Dropout
    a["loss"].backward()


def test_gumbel_noise_and_dropout_follow_the_keys():
    x = torch.randn(4, 32, 262)
    a = _model()
    b = _model()
    with kr.scope(kr.sample_keys(1, 2, range(4))):
        ra = a(x)
    with kr.scope(kr.sample_keys(1, 2, range(4))):
        rb = b(x)
    assert torch.equal(ra["ids"], rb["ids"])  # same keys, same draws
    c = _model()
    with kr.scope(kr.sample_keys(1, 3, range(4))):
        rc = c(x)
    assert not torch.equal(ra["ids"], rc["ids"])  # another step, other Gumbel noise and dropout


@pytest.mark.parametrize("down_t,groups,fpt", [(1, 11, 2), (2, 5, 4)])
def test_token_geometry_follows_down_t(down_t, groups, fpt):
    vq = _model(down_t=down_t).eval()
    assert (vq.groups, vq.frames_per_token) == (groups, fpt)
    ids = vq.encode(torch.randn(1, 24, 262))
    assert ids.shape == (1, groups, 24 // fpt)
    assert vq.decode(ids).shape == (1, 24, 262)


def test_the_foot_lock_term_is_the_feet_speed_error_in_the_ground_truths_contact_frames():
    from intermask.models.vq_losses import foot_lock_terms

    gt = torch.zeros(1, 5, 22, 3)  # metres: everyone stands still on the floor, so every foot is in contact...
    gt[:, :, 7, 1] = 0.5  # ... except the left ankle, lifted
    gt_vel = torch.zeros_like(gt)
    pred, pred_vel = gt.clone(), gt_vel.clone()
    total, count = foot_lock_terms(pred, pred_vel, gt, gt_vel)
    assert float(total) == pytest.approx(0.0, abs=1e-3)
    assert int(count) == 4 * 3  # 4 frame steps × the 3 feet joints on the floor

    pred[:, :, 8, 0] = torch.arange(5.0) * 0.01  # the right ankle slides 1 cm per frame = 0.3 m/s
    assert float(foot_lock_terms(pred, pred_vel, gt, gt_vel)[0]) == pytest.approx(4 * 0.3, rel=1e-3)
    pred_vel[:, :, 8, 0] = 0.01  # ... and the velocity channel says so as well: both count
    assert float(foot_lock_terms(pred, pred_vel, gt, gt_vel)[0]) == pytest.approx(8 * 0.3, rel=1e-3)

    lifted = gt.clone()
    lifted[:, :, 7, 0] = torch.arange(5.0) * 0.01  # the lifted ankle moving is not the term's business
    assert float(foot_lock_terms(lifted, gt_vel, gt, gt_vel)[0]) == pytest.approx(0.0, abs=1e-3)


def test_the_posture_term_reads_the_trunks_lean_and_not_its_texture():
    from intermask.models.vq_losses import POSTURE_FRAMES, TRUNK_JOINTS, posture_error
    from intermask.motion.features import rotation_columns

    gt = torch.zeros(2, 2 * POSTURE_FRAMES, 262)
    spine = rotation_columns(["spine2"])[0]
    texture = gt.clone()
    texture[:, :, spine] = torch.tensor([1.0, -1.0]).repeat(POSTURE_FRAMES)  # flickers about the right posture
    assert float(posture_error(texture, gt)) == pytest.approx(0.0, abs=1e-6)

    lean = gt.clone()
    lean[:, :POSTURE_FRAMES, spine] = 0.7  # leans for the first half second only
    assert float(posture_error(lean, gt)) == pytest.approx(0.7 / 2 / (6 * len(TRUNK_JOINTS)), rel=1e-5)
    arm = gt.clone()
    arm[..., rotation_columns(["left_shoulder"])] = 1.0  # a limb is not the trunk
    assert float(posture_error(arm, gt)) == 0.0
    short = posture_error(lean[:, :5], gt[:, :5])  # a window shorter than the span is one span
    assert float(short) == pytest.approx(0.7 / (6 * len(TRUNK_JOINTS)), rel=1e-5)


@pytest.mark.parametrize("term", ["foot_lock", "posture"])
def test_each_added_weight_enters_the_loss(term):
    x = torch.randn(2, 32, 262) * 0.01  # (no stats: metres = normalised units) feet low and slow: in contact
    losses = []
    for weight in (0.0, 2.0):
        with kr.scope(kr.sample_keys(0, 0, range(2))):
            out = _model(**{term: weight})(x)
        losses.append({k: float(v.detach()) for k, v in out.items() if k.startswith("loss")})
    assert losses[0][f"loss_{term}"] > 0
    assert losses[0][f"loss_{term}"] == pytest.approx(losses[1][f"loss_{term}"])
    assert losses[1]["loss"] - losses[0]["loss"] == pytest.approx(2.0 * losses[0][f"loss_{term}"], rel=1e-4)
