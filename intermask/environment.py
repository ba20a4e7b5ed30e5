"""Every ``INTERMASK_*`` environment variable the package reads, with its default and meaning.

Code reads them through :func:`get`, which refuses a name missing from :data:`VARIABLES`, so a variable cannot be
used without being documented here; the README's table is :func:`markdown_table` (a test keeps them equal).
"""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Variable:
    default: str | None
    meaning: str


VARIABLES: dict[str, Variable] = {
    "INTERMASK_CHECKPOINT": Variable(None, "transformer checkpoint directory the web app serves instead of the "
                                           "bundled one"),
    "INTERMASK_CHECKPOINT_B": Variable(None, "a second checkpoint for the app's two-models comparison"),
    "INTERMASK_VIDEO_SIZE": Variable("384", "height (and width per view) of the app's videos, in pixels"),
    "INTERMASK_RENDER_DETAIL": Variable("medium", "body-mesh resolution of the app's videos: low, medium or full"),
    "INTERMASK_TORCH_THREADS": Variable("1", "torch threads per app process (requests run side by side)"),
    "INTERMASK_APP_TMP": Variable(None, "where the app writes each request's files (default: the system "
                                        "temp directory's intermask-app; cleaned after 15 minutes)"),
    "INTERMASK_BODY_MODELS": Variable(None, "directory of SMPL-family body model files for `--body smplx` "
                                            "renders (same as `--body-models`)"),
}


def get(name: str) -> str | None:
    """The variable's value, or its default when unset or empty."""
    if name not in VARIABLES:
        raise KeyError(f"{name} is not a documented INTERMASK_* variable; add it to intermask/environment.py.")
    return os.environ.get(name) or VARIABLES[name].default


def markdown_table() -> str:
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    rows += [f"| `{name}` | {'`' + v.default + '`' if v.default else '–'} | {v.meaning} |"
             for name, v in VARIABLES.items()]
    return "\n".join(rows) + "\n"
