"""`python -m intermask compose`: one long interaction from a JSON timeline.

The timeline file is a list of segments, e.g.
    [{"text": "two people walk toward each other", "seconds": 3},
     {"text": "they shake hands with their right hands", "seconds": 3},
     {"text": "they walk away from each other", "seconds": 3}]
([text, seconds] pairs are accepted too).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from intermask.commands.generate import add_sampling_arguments, produce, sampling_kwargs
from intermask.errors import InterMaskError
from intermask.validation import MAX_COMPOSE_SECONDS


def read_timeline(path: str | Path) -> list[tuple[str, float]]:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InterMaskError(f"Timeline file {path} does not exist.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InterMaskError(f"Timeline file {path} is not valid JSON ({exc}); expected a list of "
                             "{\"text\": ..., \"seconds\": ...} objects.") from None
    if not isinstance(data, list):
        raise InterMaskError("The timeline must be a JSON list of {\"text\": ..., \"seconds\": ...} objects.")
    out = []
    for i, item in enumerate(data):
        if isinstance(item, dict) and set(item) >= {"text", "seconds"}:
            out.append((item["text"], item["seconds"]))
        elif isinstance(item, list) and len(item) == 2:
            out.append((item[0], item[1]))
        else:
            raise InterMaskError(f"Timeline entry {i + 1} must be {{\"text\": ..., \"seconds\": ...}}; got {item!r}.")
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeline", required=True, help=f"JSON file: a list of {{text, seconds}} segments (≤ {MAX_COMPOSE_SECONDS:g} s)")
    add_sampling_arguments(parser)


def run(args: argparse.Namespace) -> int:
    timeline = read_timeline(args.timeline)
    return produce(args, "composing", lambda model, progress: [model.compose(
        timeline, progress=progress, **sampling_kwargs(args))], ["composition"])
