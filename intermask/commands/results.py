"""`python -m intermask results`: the README's comparison tables and the target check, from `eval --out` files."""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="NAME=FILE",
                        help="result files of `python -m intermask eval --out`, each optionally named "
                             "(e.g. 'Word cross-attention=results/intermask.json'); the first gives the "
                             "ground-truth rows and is checked against the targets")
    parser.add_argument("--baseline", default=None,
                        help="the result file that control accuracy is compared with (the AdaLN-only model)")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from intermask.errors import InterMaskError
    from intermask.evaluation import comparison_markdown, target_report

    def load(path: str) -> dict:
        p = Path(path)
        try:
            result = json.loads(p.read_text())
        except (OSError, ValueError) as exc:
            raise InterMaskError(f"{path} is not a readable JSON result file ({exc}).") from None
        if "rows" not in result or "protocol" not in result:
            raise InterMaskError(f"{path} is not a result of `python -m intermask eval` (no rows/protocol).")
        return result

    named = []
    for item in args.files:
        name, _, path = item.rpartition("=") if "=" in item else (Path(item).stem, "", item)
        named.append((name, load(path)))
    print(comparison_markdown(named))
    baseline = load(args.baseline) if args.baseline else None
    print(f"Targets ({named[0][0]}):")
    for line in target_report(named[0][1], baseline):
        print(f"- {line}")
    return 0
