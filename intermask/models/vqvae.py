"""2D VQ-VAE over one person's (12 features × 22 joints × T frames) map (docs/design-notes.md, "VQ-VAE").

Input: normalised 262-d features (B, T, 262). Each joint gets [position 3 | velocity 3 | 6D rotation 6]
(the root's rotation slot is zero), giving (B, 12, 22, T). Each of the ``down_t`` strided 4×4 convolutions
halves both the joint and the time axis (22 → 11 → 5 joints and T → T/4 frames for the default 2); one codebook
turns the (groups, T / frames_per_token) map into token ids, group-major. The joint axis follows SMPL's
order unless ``VQConfig.joint_order`` names another (``JOINT_ORDERS``). This module owns that token geometry:
:func:`frames_per_token` and :func:`token_groups` derive it from the config, everything else asks them.

Graph convolution stem and head: SAGE convolutions with mean aggregation over the skeleton's bones, applied to
every (sample, frame) independently — the edges are offset per frame. The official code passes the 22-joint edge
list to a graph of all B·T·22 nodes, so only sample 0, frame 0 gets neighbours; ``VQConfig.gcn_official_bug =
True`` reproduces that for loading official weights faithfully, for frame 0 of *every* sample: the official
inference decodes one motion per batch, and a result must not depend on where a sample sits in our batch.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from intermask import skeleton as sk
from intermask.config import VQConfig
from intermask.errors import InterMaskError
from intermask.models.collective import LOCAL, Collective
from intermask.models.layers import Dropout
from intermask.models.quantizer import QuantizerEMA, split_codes
from intermask.models.vq_losses import reconstruction_losses
from intermask.motion.features import FEATURE_DIM, POS, ROT, VEL

NUM_JOINTS = sk.NUM_JOINTS
JOINT_CHANNELS = 12


def _limbs_order() -> tuple[int, ...]:
    """Pelvis and spine, left leg, right leg, then the rest (neck, collars, head, arms) in SMPL order: with 4
    joints per group centre, the first three token groups are centred on the trunk and on one leg each, and the
    last two on what SMPL's order already gives them (neck, collars and head; the arms)."""
    trunk = sk.KINEMATIC_CHAINS[2][:4]
    right_leg, left_leg = sk.KINEMATIC_CHAINS[0][1:], sk.KINEMATIC_CHAINS[1][1:]
    first = trunk + left_leg + right_leg
    return first + tuple(j for j in range(NUM_JOINTS) if j not in first)


# VQConfig.joint_order → the SMPL joint at each place of the map's joint axis.
JOINT_ORDERS = {"smpl": tuple(range(NUM_JOINTS)), "limbs": _limbs_order()}


def joint_order(cfg: VQConfig) -> tuple[int, ...]:
    """The SMPL joint at each place of the config's map (an unknown ``joint_order`` is refused)."""
    if cfg.joint_order not in JOINT_ORDERS:
        raise InterMaskError(f"joint_order must be one of {', '.join(JOINT_ORDERS)}; got {cfg.joint_order!r}.")
    return JOINT_ORDERS[cfg.joint_order]


def _places(order: tuple[int, ...]) -> list[int]:
    """The place of each SMPL joint in ``order``: the inverse permutation."""
    places = [0] * len(order)
    for place, joint in enumerate(order):
        places[joint] = place
    return places


def skeleton_mean_adjacency(order: tuple[int, ...] = JOINT_ORDERS["smpl"]) -> torch.Tensor:
    """(22, 22) row-normalised adjacency of the bones (both directions) between the places of ``order``:
    A @ h is the neighbour mean."""
    a = torch.zeros(NUM_JOINTS, NUM_JOINTS)
    for j, p in enumerate(sk.PARENTS):
        if p >= 0:
            a[j, p] = a[p, j] = 1.0
    a = a[list(order)][:, list(order)]
    return a / a.sum(1, keepdim=True)


def joint_sizes(down: int) -> list[int]:
    """Joint-axis length after each strided convolution (kernel 4, stride 2, padding 1)."""
    sizes = [NUM_JOINTS]
    for _ in range(down):
        sizes.append((sizes[-1] + 2 - 4) // 2 + 1)
    return sizes


def frames_per_token(cfg: VQConfig) -> int:
    """Motion frames per time token: every down level halves the time axis."""
    return 2 ** cfg.down_t


def token_groups(cfg: VQConfig) -> int:
    """Spatial token groups per time step: what is left of the 22 joints after the down levels."""
    return joint_sizes(cfg.down_t)[-1]


# The geometry of the default config, which every shipped checkpoint uses: 5 groups × 4 frames per token.
GROUPS = token_groups(VQConfig())
FRAMES_PER_TOKEN = frames_per_token(VQConfig())


class GraphConv(nn.Module):
    """SAGEConv(project=True, mean aggregation): out_i = W_l·mean_{j∈N(i)} ReLU(W_p x_j + b_p) + b_l + W_r x_i."""

    def __init__(self, cin: int, cout: int, official_bug: bool = False,
                 order: tuple[int, ...] = JOINT_ORDERS["smpl"]):
        super().__init__()
        self.proj = nn.Linear(cin, cin)
        self.lin_l = nn.Linear(cin, cout)
        self.lin_r = nn.Linear(cin, cout, bias=False)
        self.official_bug = official_bug
        self.register_buffer("adj", skeleton_mean_adjacency(order), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.permute(0, 3, 2, 1)  # (B, T, J, C)
        p = F.relu(self.proj(h))
        if self.official_bug:
            agg = torch.zeros_like(p)
            agg[:, 0] = self.adj @ p[:, 0]
        else:
            agg = torch.einsum("ij,btjc->btic", self.adj, p)
        return (self.lin_l(agg) + self.lin_r(h)).permute(0, 3, 2, 1)


class ResConvBlock(nn.Module):
    def __init__(self, width: int, dilation: int, dropout: float):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv2d(width, width, 1)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.dropout(self.conv2(F.relu(self.conv1(F.relu(x)))))


def resnet(width: int, depth: int, growth: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(*[ResConvBlock(width, growth ** d, dropout) for d in reversed(range(depth))])


class Encoder(nn.Module):
    def __init__(self, cfg: VQConfig):
        super().__init__()
        w = cfg.width
        if cfg.gcn:
            order = joint_order(cfg)
            self.stem = nn.ModuleList([GraphConv(JOINT_CHANNELS, w, cfg.gcn_official_bug, order),
                                       GraphConv(w, w, cfg.gcn_official_bug, order)])
        else:
            self.stem = nn.ModuleList([nn.Conv2d(JOINT_CHANNELS, w, 3, padding=1)])
        self.down = nn.ModuleList([nn.Sequential(nn.Conv2d(w, w, 4, 2, 1),
                                                 resnet(w, cfg.depth, cfg.dilation_growth_rate, cfg.dropout))
                                   for _ in range(cfg.down_t)])
        self.out = nn.Conv2d(w, cfg.code_dim, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.stem:
            x = F.relu(layer(x))
        for level in self.down:
            x = level(x)
        return self.out(x)


class Decoder(nn.Module):
    def __init__(self, cfg: VQConfig):
        super().__init__()
        w = cfg.decoder_width or cfg.width
        self.sizes = list(reversed(joint_sizes(cfg.down_t)))[1:]  # joint counts after each up level
        self.inp = nn.Conv2d(cfg.code_dim, w, 3, padding=1)
        self.up = nn.ModuleList([nn.ModuleDict({
            "res": resnet(w, cfg.depth, cfg.dilation_growth_rate, cfg.dropout),
            "conv": nn.Conv2d(w, w, 3, padding=1)}) for _ in range(cfg.down_t)])
        self.post = nn.Conv2d(w, w, 3, padding=1)
        if cfg.gcn:
            order = joint_order(cfg)
            self.head = nn.ModuleList([GraphConv(w, w, cfg.gcn_official_bug, order),
                                       GraphConv(w, JOINT_CHANNELS, cfg.gcn_official_bug, order)])
        else:
            self.head = nn.ModuleList([nn.Conv2d(w, JOINT_CHANNELS, 3, padding=1)])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.inp(z))
        for size, level in zip(self.sizes, self.up):
            x = level["res"](x)
            x = F.interpolate(x, size=(size, x.shape[-1] * 2), mode="nearest")
            x = level["conv"](x)
        x = F.relu(self.post(x))
        for i, layer in enumerate(self.head):
            x = layer(x)
            if i < len(self.head) - 1:
                x = F.relu(x)
        return x


def to_joint_map(x: torch.Tensor, order: tuple[int, ...] = JOINT_ORDERS["smpl"]) -> torch.Tensor:
    """(B, T, 262) → (B, 12, 22, T): per joint [pos, vel, rot6d] with a zero rotation for the root, the joints
    in ``order`` (SMPL joint ids)."""
    b, t, _ = x.shape
    pos = x[..., POS].reshape(b, t, NUM_JOINTS, 3)
    vel = x[..., VEL].reshape(b, t, NUM_JOINTS, 3)
    rot = F.pad(x[..., ROT].reshape(b, t, NUM_JOINTS - 1, 6), (0, 0, 1, 0))
    h = torch.cat([pos, vel, rot], dim=-1)
    if order != JOINT_ORDERS["smpl"]:  # (no copy on the paper's layout, which every bundled VQ uses)
        h = h[:, :, list(order)]
    return h.permute(0, 3, 2, 1)


def from_joint_map(m: torch.Tensor, order: tuple[int, ...] = JOINT_ORDERS["smpl"]) -> torch.Tensor:
    """(B, 12, 22, T) with the joints in ``order`` → (B, T, 262); the 4 foot-contact dims are zeros (the mean,
    once de-normalised)."""
    h = m.permute(0, 3, 2, 1)
    if order != JOINT_ORDERS["smpl"]:
        h = h[:, :, _places(order)]
    b, t = h.shape[:2]
    return torch.cat([h[..., :3].reshape(b, t, -1), h[..., 3:6].reshape(b, t, -1),
                      h[:, :, 1:, 6:].reshape(b, t, -1), h.new_zeros(b, t, 4)], dim=-1)


class VQVAE(nn.Module):
    """``forward(x)`` for training, ``encode(x) → ids (B, groups, T // frames_per_token)``,
    ``decode(ids) → (B, frames_per_token · T', 262)`` (5 groups and 4 frames per token by default).

    ``mean``/``std`` (the Normalizer's stats) are needed only by the foot-contact loss; without them that
    term is computed in normalised units.
    """

    def __init__(self, cfg: VQConfig, mean=None, std=None):
        super().__init__()
        self.cfg = cfg
        self.joint_order = joint_order(cfg)
        self.encoder = Encoder(cfg)
        self.quantizer = QuantizerEMA(cfg.nb_code, cfg.code_dim, cfg.mu, cfg.sample_codebook_temp)
        self.decoder = Decoder(cfg)
        mean = torch.zeros(FEATURE_DIM) if mean is None else torch.as_tensor(mean, dtype=torch.float32)
        std = torch.ones(FEATURE_DIM) if std is None else torch.as_tensor(std, dtype=torch.float32)
        self.register_buffer("mean", mean.clone(), persistent=False)
        self.register_buffer("std", std.clone(), persistent=False)
        self.collective: Collective = LOCAL
        self.codes_frozen = False

    @property
    def nb_code(self) -> int:
        return self.cfg.nb_code

    @property
    def frames_per_token(self) -> int:
        return frames_per_token(self.cfg)

    @property
    def groups(self) -> int:
        return token_groups(self.cfg)

    def grown_parameters(self, source: Iterable[str] = ()) -> tuple[str, ...]:
        """Parameters that may be narrower in a checkpoint this model starts from (``--init-from``; ``source``
        names its parameters): those of the encoder (``width``) and of the decoder (``decoder_width``). A larger
        codebook is grown by ``grown_state``."""
        return ("encoder.", "decoder.")

    def grown_state(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A checkpoint's weights as this model starts from them: a smaller codebook split up to ``nb_code`` codes
        (:func:`split_codes`; every old id keeps its code), the rest as they are (narrower ones are widened by
        the caller, see ``grown_parameters``)."""
        book = state.get("quantizer.codebook")  # (absent with --reinit quantizer.)
        if book is None or book.shape[0] == self.nb_code:
            return state
        return split_codes(state, self.nb_code, prefix="quantizer.")

    def freeze_codes(self) -> None:
        """Train the decoder only: the encoder's weights and the codebook stay as they are, so every clip keeps its
        token ids (and token caches, and transformers trained on them, stay valid)."""
        self.codes_frozen = True
        self.encoder.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.codes_frozen:
            # Eval mode is what freezes the codebook: training mode would move it by EMA.
            self.encoder.eval()
            self.quantizer.eval()
        return self

    def set_collective(self, collective: Collective) -> None:
        self.collective = collective
        self.quantizer.collective = collective

    def _latents(self, x: torch.Tensor) -> torch.Tensor:
        z = self.encoder(to_joint_map(x, self.joint_order))  # (B, D, groups, T')
        return z.flatten(2).transpose(1, 2)  # (B, groups·T', D), group-major like the official code

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised features (B, T, 262) → token ids (B, groups, T // frames_per_token) long (nearest code)."""
        z = self._latents(x)
        return self.quantizer.quantize(z).view(x.shape[0], self.groups, -1)

    @torch.no_grad()
    def latent_maps(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised features (B, T, 262) → the encoder's latents and their nearest codes, each
        (B, groups, T // frames_per_token, code_dim): what the codebook keeps of the encoding and what it drops."""
        z = self._latents(x)
        q = self.quantizer.dequantize(self.quantizer.quantize(z))
        shape = (x.shape[0], self.groups, -1, z.shape[-1])
        return z.reshape(shape), q.reshape(shape)

    @torch.no_grad()
    def autoencode(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised features (B, T, 262) → their reconstruction without the codebook (encoder straight into
        decoder): what the model would give if quantising cost nothing."""
        return from_joint_map(self.decoder(self.encoder(to_joint_map(x, self.joint_order))), self.joint_order)

    def decode_latents(self, q: torch.Tensor, t_tokens: int) -> torch.Tensor:
        z = q.transpose(1, 2).reshape(q.shape[0], -1, self.groups, t_tokens)
        return from_joint_map(self.decoder(z), self.joint_order)

    @torch.no_grad()
    def decode(self, ids: torch.Tensor) -> torch.Tensor:
        """Token ids (B, groups, T') → normalised features (B, frames_per_token · T', 262)."""
        b, g, t = ids.shape
        q = self.quantizer.dequantize(ids.reshape(b, g * t).clamp(0, self.nb_code - 1))
        return self.decode_latents(q, t)

    def forward(self, x: torch.Tensor, touch: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """x (B, T, 262) normalised → recon (B, fpt·(T // fpt), 262), ``loss`` and its terms, perplexity.

        touch: optional (B, T, 2) wrist weights (``InterHumanWindows(touch=True)``) for the touch term.

        Every loss term is a mean over this process's batch, except that the foot terms divide by the
        contact count of the whole global batch (times the number of processes): in each case the mean of a term
        over the processes is its value on the global batch. With one process they are plain means; a
        data-parallel trainer divides ``loss`` by the number of processes before summing gradients.
        """
        fpt = self.frames_per_token
        t = (x.shape[1] // fpt) * fpt
        x = x[:, :t]
        touch = touch[:, :t] if touch is not None else None
        z = self._latents(x)
        q, ids, commit, perplexity = self.quantizer(z)
        recon = self.decode_latents(q, t // fpt)
        terms = reconstruction_losses(recon, x, self.mean, self.std, touch)
        out = {k: v for k, v in terms.items() if k.startswith("loss_")}
        out["loss_commit"] = commit
        # Contact frames are unevenly spread over processes, so a per-process mean would not average to the
        # global one; the global count makes it exact.
        fc_count = self.collective.sum(terms["fc_count"].detach().clone())
        for name, total in (("loss_fc", terms["fc_sum"]), ("loss_foot_lock", terms["lock_sum"])):
            total = total * self.collective.world_size
            out[name] = torch.where(fc_count > 0, total / fc_count.clamp_min(1), total * 0)
        c = self.cfg
        out["loss"] = (out["loss_rec"] + c.commit * out["loss_commit"] + c.explicit * out["loss_explicit"]
                       + c.vel * out["loss_vel"] + c.bn * out["loss_bn"] + c.geo * out["loss_geo"]
                       + c.fc * out["loss_fc"] + c.hands * out["loss_hands"]
                       + c.hand_gap * out["loss_hand_gap"] + c.touch * out["loss_touch"]
                       + c.foot_lock * out["loss_foot_lock"] + c.posture * out["loss_posture"])
        out["perplexity"] = perplexity
        out["recon"] = recon
        out["ids"] = ids.view(x.shape[0], self.groups, -1)
        return out
