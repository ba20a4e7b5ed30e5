"""The sampling settings of masked decoding: one validated object for the API, the CLI, the web app and the
evaluation.

Each field carries its :class:`Knob` (default, accepted range, label, help), so a limit is written once: the API
checks it, the command-line flags and the app's sliders are built from it, and they cannot disagree.

Reactions decode only person B with person A's tokens given, and by default take half the generation steps
(as the official code does): :meth:`SamplingSettings.for_reaction` is that rule, for the API and the evaluation.
``second_pass`` (off by default) decodes person B once more as a reaction to the A of the first pass, whenever both
persons are decoded (not in reactions, where A is given).

What happens to decoded motion afterwards is a :class:`Switch`: ``REFINE`` (on by default: fixed bones, planted
feet, no floor or body penetration, :mod:`intermask.motion.refine`) is read by the API's ``refine=`` default, the
command line's ``--refine/--no-refine`` and the app's checkbox.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from typing import ClassVar

from intermask.validation import check_range, check_whole


@dataclass(frozen=True)
class Knob:
    """One setting: its default, the range the API accepts, and how a person is asked for it."""
    label: str
    default: float
    low: float
    high: float
    step: float  # slider resolution
    help: str
    high_open: bool = False  # ``high`` itself is refused
    whole: bool = False

    @property
    def slider_max(self) -> float:
        """The largest value a slider may offer: one step below an excluded upper bound."""
        return round(self.high - self.step, 10) if self.high_open else self.high

    def check(self, value):
        if self.whole:
            return check_whole(self.label, value, int(self.low), int(self.high))
        return check_range(self.label, value, self.low, self.high, high_open=self.high_open)

    def range_text(self) -> str:
        return f"[{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


def _knob(**kw) -> dataclasses.Field:
    knob = Knob(**kw)
    return field(default=int(knob.default) if knob.whole else knob.default, metadata={"knob": knob})


class KnobSettings:
    """What every settings dataclass made of :class:`Knob` fields shares: validation on construction, the knobs
    themselves, and the plain dict of the values."""

    def __post_init__(self) -> None:
        for name, knob in self.knobs().items():
            object.__setattr__(self, name, knob.check(getattr(self, name)))

    @classmethod
    def knobs(cls) -> dict[str, Knob]:
        return {f.name: f.metadata["knob"] for f in dataclasses.fields(cls)}

    @classmethod
    def knob(cls, name: str) -> Knob:
        return cls.knobs()[name]

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SamplingSettings(KnobSettings):
    """Validated on construction; an out-of-range value is an InterMaskError naming the accepted range."""
    cond_scale: float = _knob(label="Guidance scale (cond_scale)", default=2.0, low=0.0, high=20.0, step=0.1,
                              help="classifier-free guidance scale")
    time_steps: int = _knob(label="Time steps", default=20, low=1, high=100, step=1, whole=True,
                            help="decoding rounds (for up to 6.4 s of both persons; longer clips get "
                                 "proportionally more)")
    topk_ratio: float = _knob(label="Top-k ratio", default=0.9, low=0.0, high=1.0, step=0.01, high_open=True,
                              help="fraction of the codebook dropped before sampling")
    temperature: float = _knob(label="Temperature", default=1.0, low=0.0, high=10.0, step=0.05,
                               help="sampling temperature; 0 = greedy")
    second_pass: int = _knob(label="Second pass (rounds)", default=0, low=0, high=100, step=1, whole=True,
                             help="rounds that decode the second person again, with the first person's codes "
                                  "held, once both are decoded (0 = off, one pass as in the paper)")

    # The free tokens ``time_steps`` rounds are meant for: 6.4 s of both persons (2 persons × 5 groups × 48 time
    # tokens of 4 frames at 30 fps). Not in the paper: decoded in 20 rounds, a 10 s clip (740 tokens) fills up to
    # 60 tokens a round, and the bundled model then often puts the two persons inside each other (12 of the 35
    # test clips of 8–10 s; 4 with this rule: bench/long_clips.py, docs/design-notes.md "Decoding and guidance").
    STEP_TOKENS: ClassVar[int] = 480

    def steps_for(self, free_tokens: int) -> int:
        """Decoding rounds for a map with ``free_tokens`` tokens to fill: ``time_steps``, scaled up in proportion
        for more than :attr:`STEP_TOKENS` (a reaction, whose partner's tokens are given, stays at its steps up to
        10 s)."""
        return max(1, math.ceil(self.time_steps * max(1.0, free_tokens / self.STEP_TOKENS)))

    def second_pass_steps(self, free_tokens: int) -> int:
        """Rounds of the second pass for a second person with ``free_tokens`` tokens to fill (0 when off), scaled
        like :meth:`steps_for`."""
        if not self.second_pass or not free_tokens:
            return 0
        return dataclasses.replace(self, time_steps=self.second_pass).steps_for(free_tokens)

    @classmethod
    def reaction_knobs(cls) -> list[str]:
        """The settings a reaction takes: all but ``second_pass`` (the partner is given, one person is decoded)."""
        return [name for name in cls.knobs() if name != "second_pass"]

    def for_reaction(self, time_steps: int | None = None) -> "SamplingSettings":
        """The settings a reaction decodes with: ``time_steps`` if given, else half of this object's steps; no
        second pass (the partner is given, so the reacting person is decoded once, given it)."""
        steps = max(1, self.time_steps // 2) if time_steps is None else time_steps
        return dataclasses.replace(self, time_steps=steps, second_pass=0)

    @classmethod
    def markdown_table(cls) -> str:
        """The README's table of the settings, their defaults and accepted ranges."""
        rows = ["| Setting | Default | Accepted | Meaning |", "|---|---|---|---|"]
        rows += [f"| `{name}` | {k.default:g} | {k.range_text()}{' whole' if k.whole else ''} | {k.help} |"
                 for name, k in cls.knobs().items()]
        return "\n".join(rows) + "\n"

    # -------------------------------------------------------------------------------------------- command line
    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser, reaction: bool = False, sweep: bool = False) -> None:
        """``--cond-scale``, ``--time-steps``, ``--topk-ratio``, ``--temperature`` with the knobs' defaults.

        With ``reaction`` the steps default to None, meaning the reaction rule of :meth:`for_reaction`, and there
        is no ``--second-pass`` (a reaction decodes one person). With
        ``sweep`` each flag takes one or more values (a list; default: the knob's default alone), for commands that
        try every combination (:meth:`sweep`).
        """
        for name, knob in cls.knobs().items():
            if reaction and name not in cls.reaction_knobs():
                continue
            default = knob.default
            extra = ""
            if name == "time_steps" and reaction:
                default = None
                extra = f" (default: {cls().for_reaction().time_steps}, half of {knob.default:g})"
            if sweep:
                extra += "; several values: every combination is tried"
            parser.add_argument("--" + name.replace("_", "-"), type=int if knob.whole else float,
                                default=[default] if sweep else default, nargs="+" if sweep else None,
                                help=f"{knob.help} {knob.range_text()}{extra}")

    @classmethod
    def sweep(cls, args: argparse.Namespace) -> list["SamplingSettings"]:
        """Every combination of the values given to the flags of ``add_arguments(parser, sweep=True)``, each
        checked like any settings (a value out of range is an error, not clamped)."""
        names = list(cls.knobs())
        return [cls(**dict(zip(names, values))) for values in itertools.product(*(getattr(args, n) for n in names))]

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> "SamplingSettings":
        """The settings given on the command line (a None left by ``reaction`` becomes the default)."""
        return cls(**{name: getattr(args, name) for name in cls.knobs() if getattr(args, name, None) is not None})


@dataclass(frozen=True)
class Switch:
    """An on/off step applied to decoded motion: its default, and how a person is asked for it."""
    name: str
    label: str
    default: bool
    help: str

    def add_argument(self, parser: argparse.ArgumentParser) -> None:
        """``--name`` / ``--no-name`` with this switch's default."""
        parser.add_argument("--" + self.name.replace("_", "-"), dest=self.name, action=argparse.BooleanOptionalAction,
                            default=self.default, help=f"{self.help} (default: {'on' if self.default else 'off'})")


REFINE = Switch(name="refine", label="Refine (constant bones, planted feet, no overlap)", default=True,
                help="refine the motion: constant bone lengths, planted feet, no foot below the floor, the two "
                     "bodies pushed apart where they overlap (intended hand contacts kept), no added jerk; "
                     "an uploaded partner is never changed")


@dataclass(frozen=True)
class StreamSettings(KnobSettings):
    """How a streamed reaction (:mod:`intermask.streaming`) decodes each new time token.

    The lookahead is not a setting: a token's frames are made when the partner frame that completes the token has
    arrived (``frames_per_token − 1`` = 3 frames, 100 ms at 30 fps, for its first frame), the least any
    token-based decoder can do.
    """
    context_tokens: int = _knob(label="Context (tokens)", default=16, low=2, high=75, step=1, whole=True,
                                help="time tokens the transformer sees per new token (4 frames each): the newest "
                                     "one to fill and the ones before it, both persons")
    stream_steps: int = _knob(label="Rounds per token", default=2, low=1, high=20, step=1, whole=True,
                              help="masked-decoding rounds for each new token of the reacting person")
    stall_timeout: float = _knob(label="Stall timeout (s)", default=10.0, low=0.1, high=3600.0, step=0.1,
                                 help="seconds to wait for the next partner frame before the stream is ended")

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """``--context-tokens``, ``--stream-steps``, ``--stall-timeout`` with the knobs' defaults."""
        for name, knob in cls.knobs().items():
            parser.add_argument("--" + name.replace("_", "-"), type=int if knob.whole else float,
                                default=knob.default, help=f"{knob.help} {knob.range_text()}")

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> "StreamSettings":
        return cls(**{name: getattr(args, name) for name in cls.knobs()})
