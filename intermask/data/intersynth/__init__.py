"""InterSynth: a procedural two-person interaction data set written in the InterHuman on-disk layout.

Each person is posed from local joint rotations (IK for hands and feet, planned footsteps for walking) and
forward kinematics on a skeleton scaled to a sampled stature, so positions, rotations and foot contacts agree.
Entry points: :func:`compose.generate_clip` (one clip from a seed), :func:`writer.write_dataset` (a data set),
:func:`labels.mirror_label`, :func:`stats.dataset_stats`; the CLI is ``python -m intermask synth``.
"""
from intermask.data.intersynth.categories import CATEGORIES
from intermask.data.intersynth.compose import SynthClip, clip_seed, generate_clip
from intermask.data.intersynth.labels import mirror_label

__all__ = ["CATEGORIES", "SynthClip", "clip_seed", "generate_clip", "mirror_label"]
