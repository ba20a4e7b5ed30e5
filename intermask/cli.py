"""``python -m intermask <command>``: a thin shell over the Python API.

Each command lives in ``intermask/commands/<name>.py`` (hyphens in a name become underscores) with ``add_arguments(parser)`` and ``run(args)``;
command modules import heavy dependencies inside ``run`` so that ``--help`` stays instant.
"""
from __future__ import annotations

import argparse
import importlib
import shlex
import sys

from intermask.errors import InterMaskError

COMMANDS = {
    "generate": "text → two-person interaction (npz, optional BVH and video)",
    "react": "generate person B reacting to an uploaded partner motion",
    "compose": "a long interaction from a timeline of (text, seconds) segments",
    "edit": "regenerate a time span (both people, or one) from a new text, keeping the rest exactly",
    "render": "render an interaction file to an MP4 (mesh or stick figures)",
    "export": "convert an interaction file to BVH or animated GLB",
    "synth": "write the procedural InterSynth data set in the InterHuman layout",
    "eval": "evaluate a checkpoint: R-precision, FID, diversity, control accuracy, physics",
    "results": "comparison tables and the target check from several `eval --out` result files",
    "import-official": "convert the official InterMask checkpoints into this project's checkpoint format",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m intermask", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(f"intermask.commands.{name.replace('-', '_')}")
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.command_line = " ".join(["python -m intermask"] + [shlex.quote(a) for a in argv])
    if args.command is None:
        parser.print_help()
        return 1
    try:
        return int(args._run(args) or 0)
    except InterMaskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
