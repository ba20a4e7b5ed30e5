"""Small, deterministic motion data built on the fly for tests (no real data set is ever needed).

Everything here comes from forward kinematics of smooth random joint rotations on the SMPL rest skeleton,
so joints and rotations are exactly consistent, bone lengths are constant and feet are near the floor.

Typical use::

    from tests.fixtures import ...   # under `python -m pytest` from the repo root
    from fixtures import ...         # also works: pytest puts tests/ on sys.path (no __init__.py there)

    from tests.fixtures import random_person, random_interaction, write_interhuman_tree, write_interx_tree

    joints, rot6d = random_person(seed=1, frames=40)                  # (40, 22, 3) Y-up, (40, 21, 6)
    inter = random_interaction(seed=2, frames=40, text="two people shake hands")
    ids = write_interhuman_tree(tmp_path / "InterHuman", n_clips=6)  # motions_processed/, annots/, split/
    names = write_interx_tree(tmp_path / "InterX", n_seqs=4)         # motions/*.h5, texts_processed/, splits/
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from intermask import skeleton as sk
from intermask.motion.features import make_raw
from intermask.motion.interaction import Interaction

FPS = 30
DEFAULT_TEXTS = (
    "two people shake hands with their right hands.",
    "one person waves at the other, who waves back with the left hand.",
    "the first person pushes the second one, who steps back.",
    "two people hug each other and sway slowly.",
    "one person turns counterclockwise while the other watches upright.",
)


def smooth_rotations(rng: np.random.Generator, frames: int, amplitude: float = 0.3,
                     fps: float = FPS) -> np.ndarray:
    """Local axis-angle rotations (frames, 22, 3): sums of two slow sinusoids per joint and axis.

    Entry 0 (the root) is included; callers usually overwrite or compose it with a facing rotation.
    """
    t = np.arange(frames)[:, None, None] / fps
    out = np.zeros((frames, sk.NUM_JOINTS, 3))
    for _ in range(2):
        amp = rng.uniform(0.0, amplitude, size=(1, sk.NUM_JOINTS, 3))
        freq = rng.uniform(0.2, 1.5, size=(1, sk.NUM_JOINTS, 3))
        phase = rng.uniform(0, 2 * np.pi, size=(1, sk.NUM_JOINTS, 3))
        out += amp / 2 * np.sin(2 * np.pi * freq * t + phase)
    return out


def person_motion(rng: np.random.Generator, frames: int, facing: float = 0.0,
                  start_xz: tuple[float, float] = (0.0, 0.0), speed: float = 0.0, walk: bool = False,
                  scale: float = 1.0, amplitude: float = 0.3, floor: bool = True
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One person by forward kinematics.

    facing: yaw in radians (0 faces +Z, π faces −Z). speed: metres per second along the facing direction.
    walk: add a walking gait (hip/knee swing, opposite arm swing). scale: uniform body size factor.
    Returns joints (T, 22, 3) float64 Y-up metres, local rotation matrices (T, 22, 3, 3) (entry 0 = global
    root orientation) and the skeleton offsets (22, 3) used.
    """
    aa = smooth_rotations(rng, frames, amplitude)
    t = np.arange(frames) / FPS
    if walk:
        phase = 2 * np.pi * 0.9 * t
        aa[:, 1, 0] += 0.45 * np.sin(phase)  # hips swing about the lateral axis, in antiphase
        aa[:, 2, 0] -= 0.45 * np.sin(phase)
        aa[:, 4, 0] += 0.5 * (1 + np.sin(phase - 1.2))  # knees only flex (positive about +X)
        aa[:, 5, 0] += 0.5 * (1 - np.sin(phase - 1.2))
        aa[:, 16, 0] -= 0.3 * np.sin(phase)  # arms swing opposite to the legs
        aa[:, 17, 0] += 0.3 * np.sin(phase)
    local = sk.axis_angle_to_matrix(aa)
    # Root: facing yaw composed with the small random tilt.
    yaw = sk.y_rotation(np.full(frames, facing))
    local[:, 0] = yaw @ sk.axis_angle_to_matrix(aa[:, 0] * 0.3)
    forward = np.array([np.sin(facing), 0.0, np.cos(facing)])
    offsets = sk.REST_OFFSETS * scale
    root = np.zeros((frames, 3))
    root[:, 0] = start_xz[0]
    root[:, 2] = start_xz[1]
    root += speed * t[:, None] * forward
    root[:, 1] = 0.9 * scale + 0.02 * np.sin(2 * np.pi * 1.8 * t)
    joints, _ = sk.forward_kinematics(local, root, offsets)
    if floor:
        joints[..., 1] -= joints[..., 1].min()
    return joints, local, offsets


def local_to_rot6d(local: np.ndarray) -> np.ndarray:
    """Local rotation matrices (T, 22, 3, 3) → InterHuman rot6d of joints 1..21, (T, 21, 6) float32."""
    return sk.matrix_to_rot6d(local[:, 1:]).astype(np.float32)


def random_person(seed: int = 0, frames: int = 40, facing: float | None = None, walk: bool = False,
                  speed: float = 0.0, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(joints (T, 22, 3) float32 Y-up metres, rot6d (T, 21, 6) float32) of one plausible random person."""
    rng = np.random.default_rng(seed)
    if facing is None:
        facing = float(rng.uniform(-np.pi, np.pi))
    joints, local, _ = person_motion(rng, frames, facing=facing, walk=walk, speed=speed, scale=scale)
    return joints.astype(np.float32), local_to_rot6d(local)


def random_pair(rng: np.random.Generator, frames: int, distance: float | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Two persons facing each other about ``distance`` metres apart, random overall heading.

    Returns joints (2, T, 22, 3) float64 with a shared floor at y = 0 and rot6d (2, T, 21, 6) float32.
    """
    heading = float(rng.uniform(-np.pi, np.pi))
    distance = float(rng.uniform(0.8, 1.5)) if distance is None else distance
    fwd = np.array([np.sin(heading), np.cos(heading)])
    origin = rng.uniform(-1.0, 1.0, size=2)
    j1, l1, _ = person_motion(rng, frames, heading, tuple(origin), scale=rng.uniform(0.9, 1.1), floor=False)
    j2, l2, _ = person_motion(rng, frames, heading + np.pi, tuple(origin + distance * fwd),
                              scale=rng.uniform(0.9, 1.1), floor=False)
    joints = np.stack([j1, j2])
    joints[..., 1] -= joints[..., 1].min()
    return joints, np.stack([local_to_rot6d(l1), local_to_rot6d(l2)])


def random_interaction(seed: int = 0, frames: int = 40, text: str = "two people shake hands.") -> Interaction:
    """An :class:`Interaction` of two FK-generated persons facing each other."""
    joints, rot6d = random_pair(np.random.default_rng(seed), frames)
    return Interaction(joints=joints, rot6d=rot6d, fps=FPS, text=text, meta={"seed": seed})


def make_label(rng: np.random.Generator, frames: int) -> dict:
    """A machine-readable label in the shape InterSynth writes (category, actor, side, limb, count, segments)."""
    category = str(rng.choice(["handshake", "wave", "push", "hug"]))
    return {
        "category": category,
        "actor": int(rng.integers(0, 2)),
        "side": str(rng.choice(["left", "right"])),
        "limb": "hand",
        "count": int(rng.integers(1, 4)),
        "segments": [{"category": category, "start_frame": 0, "end_frame": int(frames)}],
    }


def write_interhuman_tree(root: str | Path, n_clips: int = 6, frames: tuple[int, int] = (40, 90), seed: int = 0,
                          splits: dict[str, list[str]] | None = None, labels: bool = False,
                          ignore: tuple[str, ...] = (), ignore_in_split_dir: bool = False,
                          texts: tuple[str, ...] = DEFAULT_TEXTS, texts_per_clip: int = 3,
                          short_clips: dict[str, int] | None = None) -> list[str]:
    """Write an InterHuman-layout tree (docs/design-notes.md, "Data sets") and return the clip ids ("1", "2", ...).

    - ``motions_processed/person{1,2}/<id>.npy``: raw (T, 492) float32, Z-up.
    - ``annots/<id>.txt``: ``texts_per_clip`` descriptions, one per line.
    - ``split/{train,val,test}.txt``: by default the first half of the ids is train, then val, then test
      (each split gets at least one id when n_clips ≥ 3).
    - ``ignore_list.txt`` in the root (or in ``split/`` with ``ignore_in_split_dir``) listing ``ignore``.
    - ``labels/<id>.json`` when ``labels``.
    - ``short_clips`` maps an id to a forced frame count (e.g. to test the minimum-length filter).
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    ids = [str(i + 1) for i in range(n_clips)]
    for d in ("motions_processed/person1", "motions_processed/person2", "annots", "split"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for cid in ids:
        t = int(rng.integers(frames[0], frames[1] + 1))
        if short_clips and cid in short_clips:
            t = short_clips[cid]
        joints, rot6d = random_pair(rng, t)
        for p in range(2):
            np.save(root / "motions_processed" / f"person{p + 1}" / f"{cid}.npy", make_raw(joints[p], rot6d[p]))
        chosen = rng.choice(len(texts), size=texts_per_clip, replace=texts_per_clip > len(texts))
        (root / "annots" / f"{cid}.txt").write_text("\n".join(texts[k] for k in chosen) + "\n")
        if labels:
            (root / "labels").mkdir(exist_ok=True)
            (root / "labels" / f"{cid}.json").write_text(json.dumps(make_label(rng, t)))
    if splits is None:
        n_train = max(1, n_clips // 2)
        n_val = max(1, (n_clips - n_train) // 2) if n_clips >= 3 else 0
        splits = {"train": ids[:n_train], "val": ids[n_train:n_train + n_val], "test": ids[n_train + n_val:]}
    for name in ("train", "val", "test"):
        (root / "split" / f"{name}.txt").write_text("".join(f"{i}\n" for i in splits.get(name, [])))
    if ignore:
        where = root / "split" if ignore_in_split_dir else root
        (where / "ignore_list.txt").write_text("".join(f"{i}\n" for i in ignore))
    return ids


def interx_sequence(rng: np.random.Generator, frames: int) -> np.ndarray:
    """One Inter-X sequence (T, 56, 6): SMPL-X axis-angles rows 0..54, root translation row 55; the last
    dimension holds [person 1 xyz | person 2 xyz]."""
    out = np.zeros((frames, 56, 6), dtype=np.float32)
    for p in range(2):
        aa = smooth_rotations(rng, frames, amplitude=0.3)
        out[:, :22, 3 * p:3 * p + 3] = aa
        out[:, 25:55, 3 * p:3 * p + 3] = 0.1 * smooth_rotations(rng, frames, 0.3)[:, :1]  # curled fingers
        t = np.arange(frames) / FPS
        out[:, 55, 3 * p:3 * p + 3] = np.stack([0.5 * p + 0.1 * t, 0.02 * np.sin(t), 0.9 + 0 * t], -1)
    return out


def write_interx_tree(root: str | Path, n_seqs: int = 6, frames: tuple[int, int] = (30, 80), seed: int = 0,
                      splits: dict[str, list[str]] | None = None, tags: tuple[str, str] = ("0.0", "0.0"),
                      texts: tuple[str, ...] = DEFAULT_TEXTS, lengths: dict[str, int] | None = None
                      ) -> list[str]:
    """Write an Inter-X-layout tree and return the sequence names ("G001T000A000R000", ...).

    ``motions/{train,val,test}.h5`` (one dataset per sequence, (T, 56, 6) float32),
    ``texts_processed/<name>.txt`` with "caption#tok/POS ...#f_tag#to_tag" lines and
    ``splits/{train,val,test}.txt``. ``lengths`` forces frame counts per name.
    """
    import h5py

    root = Path(root)
    rng = np.random.default_rng(seed)
    names = [f"G{i // 3 + 1:03d}T000A{i:03d}R000" for i in range(n_seqs)]
    if splits is None:
        n_train = max(1, n_seqs // 2)
        n_val = max(1, (n_seqs - n_train) // 2) if n_seqs >= 3 else 0
        splits = {"train": names[:n_train], "val": names[n_train:n_train + n_val],
                  "test": names[n_train + n_val:]}
    for d in ("motions", "texts_processed", "splits"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for split, members in splits.items():
        (root / "splits" / f"{split}.txt").write_text("".join(f"{n}\n" for n in members))
        with h5py.File(root / "motions" / f"{split}.h5", "w") as h5:
            for name in members:
                t = int(rng.integers(frames[0], frames[1] + 1))
                if lengths and name in lengths:
                    t = lengths[name]
                h5.create_dataset(name, data=interx_sequence(rng, t))
    for name in names:
        lines = []
        for k in rng.choice(len(texts), size=3, replace=False):
            caption = texts[k]
            tokens = " ".join(f"{w.strip('.,').lower()}/NOUN" for w in caption.split())
            lines.append(f"{caption}#{tokens}#{tags[0]}#{tags[1]}")
        (root / "texts_processed" / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return names


def write_tiny_checkpoint(root: str | Path, word_xattn: str = "every_block", seed: int = 0,
                          card: str = "# Tiny untrained test model\n", velocity_fusion: float = 0.5) -> Path:
    """An untrained, very small VQ-VAE + Inter-M transformer checkpoint using the ``toy`` text encoder.

    Writes ``<root>/vq`` and ``<root>/transformer`` and returns the transformer directory, which
    ``InterMask.from_pretrained`` (and the demo via ``INTERMASK_CHECKPOINT``) loads. Good for plumbing tests:
    the motion it generates is noise-like but has the right shapes. ``word_xattn="none"`` gives the AdaLN-only
    baseline architecture. The VQ decodes with ``velocity_fusion`` as the bundled one does.
    """
    import dataclasses

    import torch

    from intermask import config as C
    from intermask.checkpoint import save_checkpoint
    from intermask.models.transformer import InterMTransformer
    from intermask.models.vqvae import VQVAE
    from intermask.motion.normalize import Normalizer
    from intermask.text.base import ToyTextEncoder

    root = Path(root)
    cfg = C.tiny()
    cfg = dataclasses.replace(
        cfg, vq=dataclasses.replace(cfg.vq, nb_code=32, code_dim=16, width=16, velocity_fusion=velocity_fusion),
        transformer=dataclasses.replace(cfg.transformer, latent_dim=32, n_heads=2, n_layers=1, ff_size=64,
                                        token_emb_dim=16, text_head_heads=2, text_head_ff=64,
                                        word_xattn=word_xattn),
        text=dataclasses.replace(cfg.text, encoder="toy"))
    # The mean is a standing person and the spread small, so that decoded (untrained) motion is body-shaped.
    from intermask.motion.features import features_from_joints

    joints, rot6d = random_person(seed=seed, frames=41, facing=0.0)
    mean = features_from_joints(joints, rot6d).mean(0).astype(np.float32)
    norm = Normalizer(mean, np.full(262, 0.02, np.float32))
    enc = ToyTextEncoder()
    with torch.random.fork_rng():  # module initialisation draws from the global generator: restore it after
        torch.manual_seed(seed)
        vq = VQVAE(cfg.vq, norm.mean, norm.std).eval()
        # A random codebook (training would initialise it from data): distinct codes decode to distinct motion.
        vq.quantizer.codebook.copy_(torch.randn(cfg.vq.nb_code, cfg.vq.code_dim))
        vq.quantizer.initted.fill_(True)
        model = InterMTransformer(cfg.transformer, cfg.vq.nb_code, enc.dim).eval()
    save_checkpoint(root / "vq", vq, cfg, "vq", norm)
    return save_checkpoint(root / "transformer", model, cfg, "transformer", norm, text_dim=enc.dim,
                           vq_dir=root / "vq", card=card)


def hide_libraries_code(names: tuple[str, ...]) -> str:
    """Python source that, run first in a fresh interpreter, makes the shared libraries ``names`` (e.g. "OSMesa")
    unloadable there, as on a machine where they are not installed: ``ctypes.util.find_library`` does not find
    them and opening any ``lib<name>.so*`` fails, which covers both our probe and PyOpenGL's own loader.
    """
    return f"""
import ctypes, ctypes.util, os
_hidden = tuple('lib' + n + '.so' for n in {tuple(names)!r})
_find_library = ctypes.util.find_library
def _find(name):
    return None if 'lib' + name + '.so' in _hidden else _find_library(name)
ctypes.util.find_library = _find
_cdll_init = ctypes.CDLL.__init__
def _init(self, name, *args, **kwargs):
    if name and os.path.basename(str(name)).startswith(_hidden):
        raise OSError(str(name) + ': cannot open shared object file (hidden by the test)')
    _cdll_init(self, name, *args, **kwargs)
ctypes.CDLL.__init__ = _init
"""


class AppServer:
    """``python app.py`` in a subprocess on 127.0.0.1 and a free port, serving tiny test checkpoints.

        with AppServer(tmp_path, video_size=128) as server:
            Client(server.url).predict(..., api_name="/generate")

    By default two untrained checkpoints are written under ``workdir`` (word cross-attention as the default
    model, AdaLN only as "custom B"); ``checkpoints`` overrides them (``()``: the bundled models). Gradio's
    cache and the app's work files also stay under ``workdir``.
    ``startup_seconds`` is measured from process start to the first HTTP 200. ``hide_libraries`` (e.g.
    ``("EGL", "OSMesa")``) runs the app as on a machine without those shared libraries.
    """

    def __init__(self, workdir: str | Path, video_size: int = 128, timeout: float = 180.0,
                 checkpoints: tuple[Path, ...] | None = None, extra_env: dict | None = None,
                 hide_libraries: tuple[str, ...] = ()):
        self.workdir = Path(workdir)
        self.hide_libraries = hide_libraries
        self.video_size = video_size
        self.timeout = timeout
        self.checkpoints = checkpoints
        self.extra_env = extra_env or {}
        self.proc = None
        self.url = ""
        self.startup_seconds = float("nan")

    def __enter__(self) -> "AppServer":
        import os
        import socket
        import subprocess
        import sys
        import time
        import urllib.request

        root = Path(__file__).resolve().parent.parent
        if self.checkpoints is None:
            self.checkpoints = (write_tiny_checkpoint(self.workdir / "model_a"),
                                write_tiny_checkpoint(self.workdir / "model_b", word_xattn="none", seed=1))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1",
                   INTERMASK_VIDEO_SIZE=str(self.video_size), INTERMASK_APP_TMP=str(self.workdir / "app_tmp"),
                   GRADIO_TEMP_DIR=str(self.workdir / "gradio"), **self.extra_env)
        env.pop("INTERMASK_CHECKPOINT", None), env.pop("INTERMASK_CHECKPOINT_B", None)
        for name, path in zip(("INTERMASK_CHECKPOINT", "INTERMASK_CHECKPOINT_B"), self.checkpoints):
            env[name] = str(path)  # an empty tuple: the app's bundled models
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "app.log"
        self._log = open(self.log_path, "w")
        start = time.perf_counter()
        app = [str(root / "app.py")]
        if self.hide_libraries:
            app = ["-c", hide_libraries_code(self.hide_libraries)
                   + f"import runpy\nrunpy.run_path({str(root / 'app.py')!r}, run_name='__main__')\n"]
        self.proc = subprocess.Popen([sys.executable, *app, "--host", "127.0.0.1", "--port", str(port)], cwd=root,
                                     env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:  # bounded: at most `timeout` seconds of polling
            if self.proc.poll() is not None:
                self.__exit__(None, None, None)
                raise RuntimeError(f"the app exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "config", timeout=5) as r:
                    if r.status == 200:
                        self.startup_seconds = time.perf_counter() - start
                        return self
            except OSError:
                time.sleep(0.5)
        self.__exit__(None, None, None)
        raise RuntimeError(f"the app did not answer within {self.timeout:.0f} s:\n{self.log_path.read_text()[-3000:]}")

    def __exit__(self, *exc) -> None:
        import subprocess

        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        if getattr(self, "_log", None) is not None:
            self._log.close()


def load_bench(name: str):
    """The module of ``bench/<name>.py``, for tests that call a measuring script's ``main`` directly."""
    import importlib.util
    import sys

    bench = Path(__file__).resolve().parents[1] / "bench"
    if str(bench) not in sys.path:
        sys.path.insert(0, str(bench))  # the scripts import their sibling result_file
    spec = importlib.util.spec_from_file_location(name, bench / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
