"""What every benchmark prints beside its figures: the CPU model (``lscpu``), and where a
figure depends on it, how busy the machine was (``/proc``)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path


def cpu_model() -> str:
    """The processor's model name, from ``lscpu`` where it exists."""
    if shutil.which("lscpu"):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


#: Clock ticks per second of the times in ``/proc`` (Linux).
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def machine_times() -> tuple[float, float, float] | None:
    """The machine's busy, idle and stolen CPU seconds so far, all cores (``/proc/stat``;
    stolen: time the hypervisor gave the virtual CPUs' turn to another guest); None off
    Linux. Differences over a run say whether its cores were saturated and how much of
    them the machine's neighbours took."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    busy = user + nice + system + irq + softirq
    return busy / _TICK, (idle + iowait) / _TICK, steal / _TICK


def process_tree_cpu(pid: int) -> float | None:
    """CPU seconds (user and system) used so far by process ``pid`` and its children, as
    ``/proc`` shows them; None off Linux or once the process is gone."""
    total = 0.0
    pending = [pid]
    try:
        while pending:
            current = pending.pop()
            stat = Path(f"/proc/{current}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _TICK
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(child) for child in children)
    except (OSError, ValueError):
        return None
    return total
