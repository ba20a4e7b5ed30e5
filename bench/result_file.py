"""Result files of the measuring scripts: the result with the command that made it, printed and written."""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path


def publish(result: dict, out: Path | None) -> dict:
    """Add ``command`` (this process's command line), print the result and write it to ``out`` if given."""
    result = {**result, "command": " ".join(["python"] + [shlex.quote(a) for a in sys.argv])}
    print(json.dumps(result, indent=1))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n")
    return result
