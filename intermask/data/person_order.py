"""Words that name the persons by their order in the files ("the first person", "the second person").

InterSynth writes "first"/"second" only when they name the right file (its ``text._actor_words``). Training swaps
the two persons' slots at random, so unless the words swap with them the order they name cannot be learned.
"""
from __future__ import annotations

import dataclasses
import re

_ORDINAL = re.compile(r"\b(first|second)(?=\s+(?:person|one)\b)", re.IGNORECASE)
_OTHER = {"first": "second", "second": "first"}


def swap_person_order(text: str) -> str:
    """"the first person" ↔ "the second person" (and "… one"), keeping each word's capitalisation."""
    def other(m: re.Match) -> str:
        word = m.group(1)
        swapped = _OTHER[word.lower()]
        return swapped.capitalize() if word[0].isupper() else swapped

    return _ORDINAL.sub(other, text)


def person_views(features, texts: list[str], encode):
    """``features`` of ``texts`` with ``swapped`` set to ``encode`` of the texts with the order words exchanged
    (the second person's reading, for a transformer with ``person_words``), or unchanged when no text names a
    person by order. ``encode``: the encoder (or text cache) that made ``features``."""
    swapped = [swap_person_order(t) for t in texts]
    if swapped == list(texts):
        return features
    return dataclasses.replace(features, swapped=encode(swapped))
