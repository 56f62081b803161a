"""What every benchmark prints beside its figures: the CPU model (``lscpu``)."""

from __future__ import annotations

import platform
import shutil
import subprocess


def cpu_model() -> str:
    """The processor's model name, from ``lscpu`` where it exists."""
    if shutil.which("lscpu"):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"
