"""`python -m intermask generate`: not implemented yet (see the open issues)."""
import argparse

from intermask.errors import InterMaskError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise InterMaskError("The 'generate' command is not available in this version yet.")
