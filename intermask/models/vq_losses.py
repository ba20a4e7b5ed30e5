"""VQ-VAE reconstruction losses (docs/design-notes.md, "VQ-VAE"), each returned as a mean over the local batch.

Positions live in the normalised 262-d features except for the foot-contact term, which needs metres and
de-normalises with the stats the VQ-VAE holds. The geodesic term reads the 6D layout correctly (the official
code reads normalised values with the wrong column convention); here it is the true geodesic
angle between the de-normalised rotations.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from intermask import skeleton as sk
from intermask.motion.features import POS, ROT, VEL, rotation_columns

_PARENTS = torch.tensor(sk.PARENTS[1:])
_FEET = [sk.FOOT_LEFT[0], sk.FOOT_LEFT[1], sk.FOOT_RIGHT[0], sk.FOOT_RIGHT[1]]
_WRISTS = list(sk.WRISTS)
# Frames where the ground-truth wrists are this far apart (m) weigh 1/e as much in the hand-gap term as touching ones.
HAND_GAP_SCALE = 0.1
_FOOT_HEIGHTS = torch.tensor([sk.FOOT_HEIGHT_THRESHOLDS[0], sk.FOOT_HEIGHT_THRESHOLDS[1]] * 2)
# The trunk: joints whose rotations set the posture (spine, neck, collars, head).
TRUNK_JOINTS = ("spine1", "spine2", "spine3", "neck", "left_collar", "right_collar", "head")
_TRUNK_ROT = rotation_columns(TRUNK_JOINTS)
# Posture is the trunk's rotation averaged over this many frames (half a second): leans and bows change no faster,
# while what changes faster (breathing, sway) is texture no evaluator or viewer reads.
POSTURE_FRAMES = 16


def _positions(x: torch.Tensor) -> torch.Tensor:
    return x[..., POS].reshape(*x.shape[:-1], 22, 3)


def bone_lengths(pos: torch.Tensor) -> torch.Tensor:
    return (pos[..., 1:, :] - pos[..., _PARENTS.to(pos.device), :]).norm(dim=-1)


def geodesic(pred6d: torch.Tensor, gt6d: torch.Tensor) -> torch.Tensor:
    rp = sk.rot6d_to_matrix_torch(pred6d)
    rg = sk.rot6d_to_matrix_torch(gt6d)
    cos = ((rg @ rp.transpose(-1, -2)).diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    return torch.acos(cos.clamp(-1 + 1e-7, 1 - 1e-7))


def foot_contact_terms(pred_pos_m: torch.Tensor, gt_pos_m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of SmoothL1 of predicted foot velocity where the GT foot is in contact, number of elements)."""
    contact = _foot_contacts(gt_pos_m)
    pred_feet = pred_pos_m[..., _FEET, :]
    pred_vel = pred_feet[:, 1:] - pred_feet[:, :-1]
    sel = contact[..., None].expand_as(pred_vel)
    loss = F.smooth_l1_loss(pred_vel * sel, torch.zeros_like(pred_vel), reduction="none")
    return (loss * sel).sum(), sel.sum().to(pred_vel.dtype)


def foot_lock_terms(pred_pos_m: torch.Tensor, pred_vel_m: torch.Tensor, gt_pos_m: torch.Tensor,
                    gt_vel_m: torch.Tensor, fps: float = 30.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of the speed error (m/s) of the foot joints where the ground-truth foot is in contact, number of
    foot-frames): the error of the decoded positions' frame differences and that of the decoded velocity channel,
    both against the ground truth's, each an L1 of the 3-d error (so it keeps pulling when the error is a few
    millimetres per frame, where the smooth-L1 of ``foot_contact_terms`` has gone quadratic and flat)."""
    contact = _foot_contacts(gt_pos_m)
    pred_feet, gt_feet = pred_pos_m[..., _FEET, :], gt_pos_m[..., _FEET, :]
    pos_err = (pred_feet[:, 1:] - pred_feet[:, :-1]) - (gt_feet[:, 1:] - gt_feet[:, :-1])
    vel_err = pred_vel_m[:, :-1][..., _FEET, :] - gt_vel_m[:, :-1][..., _FEET, :]
    speed = (_norm(pos_err) + _norm(vel_err)) * fps
    return (speed * contact).sum(), contact.sum().to(speed.dtype)


def _foot_contacts(gt_pos_m: torch.Tensor) -> torch.Tensor:
    """(B, T−1, 4) bool: the ground-truth foot joint is low and slow (the InterHuman contact rule)."""
    gt_feet = gt_pos_m[..., _FEET, :]
    gt_vel2 = (gt_feet[:, 1:] - gt_feet[:, :-1]).pow(2).sum(-1)
    return (gt_vel2 < sk.FOOT_VELOCITY_THRESHOLD) & (gt_feet[:, :-1, :, 1] < _FOOT_HEIGHTS.to(gt_pos_m.device))


def _norm(v: torch.Tensor) -> torch.Tensor:
    return (v.pow(2).sum(-1) + 1e-12).sqrt()  # (the eps keeps the gradient finite at zero)


def hand_gap_error(pred_m: torch.Tensor, gt_m: torch.Tensor) -> torch.Tensor:
    """Mean error (m) of the vector from the right wrist to the left one, each frame weighted by
    exp(−ground-truth gap / HAND_GAP_SCALE): hands that meet (a clap) must meet in the reconstruction, while both
    hands off by the same amount cost nothing here (the wrist term sees that)."""
    pred_gap = pred_m[..., _WRISTS[0], :] - pred_m[..., _WRISTS[1], :]
    gt_gap = gt_m[..., _WRISTS[0], :] - gt_m[..., _WRISTS[1], :]
    weight = torch.exp(-gt_gap.norm(dim=-1) / HAND_GAP_SCALE)
    return (_norm(pred_gap - gt_gap) * weight).mean()


def touch_error(pred_m: torch.Tensor, gt_m: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean error (m) of the two wrists, each weighted by ``weights`` (B, T, 2) from
    ``intermask.motion.touch.touch_weights``: large where the ground-truth wrist is on the partner. A handshake or a
    fist bump is lost when a wrist stops a few centimetres short in those frames, which the wrist term, spread
    over every frame, barely notices."""
    return (_norm(pred_m[..., _WRISTS, :] - gt_m[..., _WRISTS, :]) * weights).mean()


def posture_error(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean L1 (normalised units) between the trunk's rotation features of pred and gt (B, T, 262), each averaged
    over consecutive POSTURE_FRAMES-frame spans (one shorter span covers a remainder). The per-frame terms barely
    pull on a lean of a degree or two spread over the spine, since frame-to-frame texture of the same size cannot
    be fitted and drowns it; averaged, the texture cancels and the posture is what is left to match."""
    span = min(POSTURE_FRAMES, pred.shape[1])

    def posture(x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool1d(x[..., _TRUNK_ROT].transpose(1, 2), span, span, ceil_mode=True)

    return (posture(pred) - posture(gt)).abs().mean()


def reconstruction_losses(pred: torch.Tensor, gt: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                          touch: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """pred, gt (B, T, 262) normalised → local-mean loss terms plus the foot-contact (sum, count) pair and the
    foot-lock sum (over the same contact foot-frames).

    touch: optional (B, T, 2) wrist weights for ``loss_touch`` (zero without them)."""
    pp, gp = _positions(pred), _positions(gt)
    out = {
        "loss_rec": F.smooth_l1_loss(pred[..., :258], gt[..., :258]),
        "loss_explicit": F.smooth_l1_loss(pp, gp),
        "loss_vel": F.smooth_l1_loss(pp[:, 1:] - pp[:, :-1], gp[:, 1:] - gp[:, :-1]),
        "loss_bn": F.smooth_l1_loss(bone_lengths(pp), bone_lengths(gp)),
        "loss_posture": posture_error(pred, gt),
    }
    pred_d, gt_d = pred * std + mean, gt * std + mean
    out["loss_geo"] = geodesic(pred_d[..., ROT].reshape(*pred.shape[:-1], 21, 6),
                               gt_d[..., ROT].reshape(*gt.shape[:-1], 21, 6)).mean()
    pred_m, gt_m = _positions(pred_d), _positions(gt_d)
    out["loss_hands"] = (pred_m[..., _WRISTS, :] - gt_m[..., _WRISTS, :]).pow(2).sum(-1).mean()
    out["loss_hand_gap"] = hand_gap_error(pred_m, gt_m)
    out["loss_touch"] = touch_error(pred_m, gt_m, touch) if touch is not None else pred_m.new_zeros(())
    out["fc_sum"], out["fc_count"] = foot_contact_terms(pred_m, gt_m)
    vel_shape = (*pred.shape[:-1], 22, 3)
    out["lock_sum"], _ = foot_lock_terms(pred_m, pred_d[..., VEL].reshape(vel_shape), gt_m,
                                         gt_d[..., VEL].reshape(vel_shape))
    return out
