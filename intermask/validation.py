"""Checks on what callers pass in, turned into one-sentence :class:`InterMaskError` messages.

The API, the settings and the timeline planner share these, so the same mistake reads the same everywhere (the
web app shows the sentence as it is). Request-size limits live here too: they bound the cost of one call.
"""
from __future__ import annotations

import math

from intermask.config import TransformerConfig
from intermask.errors import InterMaskError
from intermask.motion.features import FPS

MIN_SECONDS = 1.0
# The longest single window of the shipped configurations; a loaded model states its own (InterMask.max_seconds).
MAX_SECONDS = TransformerConfig.max_motion_frames / FPS
MAX_SEGMENT_SECONDS = 30.0  # one segment of a composed timeline
MAX_COMPOSE_SECONDS = 60.0
MAX_SAMPLES = 16
MAX_MOTIONS_PER_CALL = 4 * MAX_SAMPLES
MAX_TEXT_CHARS = 1000


def check_range(name: str, value, low: float, high: float, *, low_open: bool = False,
                high_open: bool = False) -> float:
    """``value`` as a float inside [low, high] (an open end excludes its bound); otherwise an error naming both."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InterMaskError(f"{name} must be a number; got {value!r}.") from None
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if not math.isfinite(value) or too_low or too_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise InterMaskError(f"{name} must be in {lo}{low:g}, {high:g}{hi}; got {value:g}.")
    return value


def check_whole(name: str, value, low: int, high: int) -> int:
    number = check_range(name, value, low, high)
    if number != int(number):
        raise InterMaskError(f"{name} must be a whole number between {low} and {high}; got {value}.")
    return int(number)


def check_text(text) -> str:
    """A description with its whitespace collapsed; bounded so that one request cannot flood the text encoder."""
    if not isinstance(text, str):
        raise InterMaskError(f"The text must be a string; got {type(text).__name__}.")
    text = " ".join(text.split())
    if len(text) > MAX_TEXT_CHARS:
        raise InterMaskError(f"The text is {len(text)} characters long; at most {MAX_TEXT_CHARS} are accepted.")
    return text


def check_seconds(seconds, high: float = MAX_SECONDS) -> float:
    return check_range("Duration (seconds)", seconds, MIN_SECONDS, high)


def check_timeline(timeline) -> list[tuple[str, float]]:
    """(text, seconds) segments, each checked, at most MAX_COMPOSE_SECONDS in total."""
    if not timeline:
        raise InterMaskError("The timeline is empty: give at least one (text, seconds) segment.")
    segments = []
    for i, item in enumerate(timeline):
        try:
            text, seconds = item
        except (TypeError, ValueError):
            raise InterMaskError(f"Timeline entry {i + 1} must be a (text, seconds) pair; got {item!r}.") from None
        segments.append((check_text(text), check_range(f"Seconds of segment {i + 1}", seconds, MIN_SECONDS,
                                                       MAX_SEGMENT_SECONDS)))
    total = sum(s for _, s in segments)
    if total > MAX_COMPOSE_SECONDS:
        raise InterMaskError(f"The timeline lasts {total:g} s; at most {MAX_COMPOSE_SECONDS:g} s are accepted.")
    return segments
