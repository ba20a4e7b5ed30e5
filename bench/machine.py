"""One line naming the machine a benchmark ran on (CPU model, cores, load, library versions)."""
from __future__ import annotations

import os
import platform
from pathlib import Path


def describe() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torch

        torch_part = f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        torch_part = "no torch"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu}, {os.cpu_count()} cores, load average {load:.2f} at start, Python {platform.python_version()}, "
            f"{torch_part}, PYOPENGL_PLATFORM={os.environ.get('PYOPENGL_PLATFORM', 'auto')}")
