"""Where a VQ-VAE loses a joint group's posture: a linear probe from its latents, before and after the codebook.

    python bench/posture_probe.py --data-root data/intersynth --out results/posture_probe.json

A window's posture of a joint group is its rotation features averaged over the window (64 frames). A ridge
regression learns it from the encoder's latents averaged over the window's time tokens (one code_dim vector per
token group), from the same latents snapped to their nearest codes (what the decoder receives), and, for
comparison, from the window's mean joint positions and velocities; it is fitted on windows of one split and
scored (R², the share of the posture's variance across windows that it predicts) on windows of another. Where the
latents predict a posture and their codes do not, the codebook is what drops it, whatever the decoder is taught.

Where the data set has InterSynth's labels, two more sources say how much of a posture the text could give back:
the clip's action (its label's category, one-hot), alone and beside the codes, what a decoder told the action
would have to work from.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evaluator_features import ROTATION_GROUPS  # noqa: E402  (bench/evaluator_features.py)
from result_file import publish  # noqa: E402  (bench/result_file.py)
from intermask.motion.features import POS, VEL, rotation_columns  # noqa: E402

SOURCES = ("latents", "codes", "positions and velocities")
ACTION_SOURCES = ("action", "codes and action")


def ridge_r2(fit_x: np.ndarray, fit_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
             alpha: float = 10.0) -> np.ndarray:
    """R² on (test_x, test_y) of a ridge regression (inputs standardised on the fit set) fitted on (fit_x, fit_y),
    one per target column."""
    mu, sd = fit_x.mean(0), fit_x.std(0) + 1e-6
    a, b = (fit_x - mu) / sd, (test_x - mu) / sd
    y_mean = fit_y.mean(0)
    w = np.linalg.solve(a.T @ a + alpha * np.eye(a.shape[1]), a.T @ (fit_y - y_mean))
    residual = test_y - (b @ w + y_mean)
    return 1 - (residual ** 2).sum(0) / ((test_y - test_y.mean(0)) ** 2).sum(0)


def window_sources(vq, x: torch.Tensor, batch: int = 100) -> dict[str, np.ndarray]:
    """(N, T, 262) normalised windows → each source's (N, features)."""
    out = {name: [] for name in SOURCES}
    motion = list(range(POS.start, POS.stop)) + list(range(VEL.start, VEL.stop))
    for i in range(0, len(x), batch):
        z, q = vq.latent_maps(x[i:i + batch])
        out["latents"].append(z.mean(2).flatten(1).numpy())
        out["codes"].append(q.mean(2).flatten(1).numpy())
        out["positions and velocities"].append(x[i:i + batch, :, motion].mean(1).numpy())
    return {name: np.concatenate(parts) for name, parts in out.items()}


def add_action_sources(sources: dict[str, np.ndarray], actions: list[str], names: list[str]) -> None:
    """Add ``ACTION_SOURCES`` to a window's sources: its clip's action one-hot over ``names``, and beside the codes."""
    sources["action"] = np.array([[a == name for name in names] for a in actions], dtype=np.float64)
    sources["codes and action"] = np.hstack([sources["codes"], sources["action"]])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vq", default="checkpoints/intersynth/vq")
    p.add_argument("--data-root", required=True)
    p.add_argument("--fit-split", default="val")
    p.add_argument("--test-split", default="test")
    p.add_argument("--fit-windows", type=int, default=3000)
    p.add_argument("--test-windows", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()

    from intermask.checkpoint import load_vq
    from intermask.data.interhuman import InterHumanWindows, read_label

    vq, _, norm = load_vq(args.vq)
    vq = vq.float()
    rng = np.random.default_rng(args.seed)

    def windows(split: str, n: int) -> tuple[torch.Tensor, list[str | None]]:
        """n windows of the split and their clips' actions (None without labels)."""
        data = InterHumanWindows(args.data_root, split, norm, 64, 32)
        pick = rng.choice(len(data), min(n, len(data)), replace=False)
        labels = [read_label(args.data_root, data.clip_id(int(i))) for i in pick]
        actions = [label["category"] if label else None for label in labels]
        return torch.as_tensor(np.stack([data[int(i)] for i in pick])).float(), actions

    (fit, fit_actions), (test, test_actions) = (windows(args.fit_split, args.fit_windows),
                                                windows(args.test_split, args.test_windows))
    fit_src, test_src = window_sources(vq, fit), window_sources(vq, test)
    sources = SOURCES
    if None not in fit_actions + test_actions:
        names = sorted(set(fit_actions + test_actions))
        add_action_sources(fit_src, fit_actions, names)
        add_action_sources(test_src, test_actions, names)
        sources = SOURCES + ACTION_SOURCES
    rows = {}
    for group, joints in ROTATION_GROUPS.items():
        cols = rotation_columns(joints)
        fit_y, test_y = fit[..., cols].mean(1).numpy(), test[..., cols].mean(1).numpy()
        varying = fit_y.std(0) > 1e-3  # (normalised units: columns that never turn sit at the std floor)
        if not varying.any():
            continue
        rows[group] = {name: float(ridge_r2(fit_src[name], fit_y[:, varying], test_src[name],
                                            test_y[:, varying]).mean()) for name in sources}
    print("| joint group | " + " | ".join(f"R² from {s}" for s in sources) + " |")
    print("|---|" + "---|" * len(sources))
    for group, row in rows.items():
        print(f"| {group} | " + " | ".join(f"{row[s]:.2f}" for s in sources) + " |")
    publish({"vq": args.vq, "fit": [args.fit_split, len(fit)], "test": [args.test_split, len(test)],
             "window_frames": 64, "rows": rows}, args.out)


if __name__ == "__main__":
    main()
