"""Body-mesh frames of an Interaction: fit, skin in chunks, update GPU buffers, render each view."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from intermask.motion.interaction import Interaction
from intermask.render.body import BodyModel
from intermask.render.camera import CameraPath, CameraSettings, frame_camera
from intermask.render.posing import fit_body
from intermask.render.scene import PARTNER_COLOUR, PERSON_COLOURS, MeshScene
from intermask.render.skinning import Skinner

CHUNK = 16  # frames skinned per batch; the next batch is skinned while this one renders


def prepare_bodies(interaction: Interaction, body: BodyModel, smooth: float = 1.0) -> list[Skinner]:
    return [Skinner(fit_body(body, interaction.joints[p], interaction.rot6d[p], smooth=smooth)) for p in range(2)]


def mesh_frames(interaction: Interaction, body: BodyModel, size: int = 512, views: int = 1,
                camera: CameraSettings = CameraSettings(), smooth: float = 1.0,
                timings: dict | None = None, progress: Callable[[int, int], None] | None = None,
                partner_highlight: bool = False) -> Iterator[np.ndarray]:
    """Yield RGB frames (size, size*views, 3), one per motion frame.

    partner_highlight: draw person A (a given partner) in grey so that the generated person B stands out.
    """
    import time

    t0 = time.perf_counter()
    skinners = prepare_bodies(interaction, body, smooth)
    floor_y = min(0.0, min(s.lowest_point() for s in skinners))
    cams: list[CameraPath] = [frame_camera(interaction.joints, camera, 1.0, azimuth_offset=90.0 * k)
                              for k in range(views)]
    joints = interaction.joints.reshape(-1, 3)
    dist = float(np.linalg.norm(cams[0].pose(0)[:3, 3] - joints.mean(0)))
    T = interaction.num_frames
    timing = {"posing": time.perf_counter() - t0, "skinning": 0.0, "rendering": 0.0}
    scene = MeshScene([s.rest for s in skinners], [s.rest_normals for s in skinners], [s.faces for s in skinners],
                      size, size, cams[0].yfov, floor_y, (joints.min(0), joints.max(0)), dist,
                      colours=(PARTNER_COLOUR, PERSON_COLOURS[1]) if partner_highlight else None)

    def skin(start: int) -> tuple[list, float]:
        t = time.perf_counter()
        out = [s.vertices(start, min(start + CHUNK, T)) for s in skinners]
        return out, time.perf_counter() - t

    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(skin, 0)
            for start in range(0, T, CHUNK):
                chunk, dt = pending.result()
                timing["skinning"] += dt
                if start + CHUNK < T:
                    pending = pool.submit(skin, start + CHUNK)
                for i in range(chunk[0][0].shape[0]):
                    t = start + i
                    tr = time.perf_counter()
                    pelvis = [s.fitted.positions[t, 0] for s in skinners]
                    scene.update([c[0][i] for c in chunk], [c[1][i] for c in chunk], pelvis)
                    imgs = [scene.render(cam.pose(t)) for cam in cams]
                    timing["rendering"] += time.perf_counter() - tr
                    if progress is not None:
                        progress(t + 1, T)
                    yield imgs[0] if len(imgs) == 1 else np.concatenate(imgs, axis=1)
    finally:
        scene.close()
        if timings is not None:
            timings.update(timing)
