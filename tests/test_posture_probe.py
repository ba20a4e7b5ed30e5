"""bench/posture_probe.py: a linear probe says how much of a posture a representation keeps."""
import numpy as np
import torch

from fixtures import load_bench


def test_ridge_r2_reads_a_linear_posture_and_not_noise():
    probe = load_bench("posture_probe")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 8))
    posture = x @ rng.normal(size=(8, 2))  # two posture columns, linear in the representation
    r2 = probe.ridge_r2(x[:300], posture[:300], x[300:], posture[300:])
    assert r2.shape == (2,) and (r2 > 0.99).all()
    noise = rng.normal(size=(400, 2))  # a posture the representation knows nothing of
    assert (np.abs(probe.ridge_r2(x[:300], noise[:300], x[300:], noise[300:])) < 0.1).all()


def test_window_sources_average_each_token_group_over_time():
    import dataclasses

    from intermask.config import VQConfig
    from intermask.models.vqvae import VQVAE

    probe = load_bench("posture_probe")
    torch.manual_seed(0)
    vq = VQVAE(dataclasses.replace(VQConfig(), nb_code=16, code_dim=8, width=16)).eval()
    x = torch.randn(3, 32, 262)
    z, q = vq.latent_maps(x)
    assert z.shape == q.shape == (3, vq.groups, 32 // vq.frames_per_token, 8)
    codebook = vq.quantizer.codebook
    assert all(any(torch.equal(v, c) for c in codebook) for v in q.reshape(-1, 8))  # q holds codes only
    sources = probe.window_sources(vq, x, batch=2)
    assert {k: v.shape for k, v in sources.items()} == {
        "latents": (3, vq.groups * 8), "codes": (3, vq.groups * 8), "positions and velocities": (3, 132)}
    # (batches of 2 and of 3 may sum in another order: equal to float precision)
    np.testing.assert_allclose(sources["latents"], z.mean(2).flatten(1).numpy(), rtol=1e-5, atol=1e-5)


def test_action_sources_are_a_one_hot_of_the_clip_action_alone_and_beside_the_codes():
    probe = load_bench("posture_probe")
    sources = {"codes": np.arange(6.0).reshape(3, 2)}
    probe.add_action_sources(sources, ["hug", "wave", "hug"], ["bow", "hug", "wave"])
    np.testing.assert_array_equal(sources["action"], [[0, 1, 0], [0, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(sources["codes and action"][:, :2], sources["codes"])
    np.testing.assert_array_equal(sources["codes and action"][:, 2:], sources["action"])
    assert set(probe.ACTION_SOURCES) <= set(sources)
