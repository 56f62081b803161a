"""A minimal FCS writer for tests: files with exactly known contents (FCS 2.0 integers or
FCS 3.1 float32), so that the reader and the flow analysis run without ../shared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt


def write_fcs(
    path: Path,
    events: npt.ArrayLike,
    channels: list[str],
    *,
    markers: list[str] | None = None,
    version: str = "3.1",
    spillover: tuple[list[str], npt.ArrayLike] | None = None,
    spill_keyword: str = "$SPILLOVER",
    extra: dict[str, str] | None = None,
) -> Path:
    data = np.asarray(events)
    n, p = data.shape
    integer = version == "2.0"
    keywords: dict[str, str] = {
        "$BYTEORD": "1,2,3,4",
        "$DATATYPE": "I" if integer else "F",
        "$MODE": "L",
        "$NEXTDATA": "0",
        "$PAR": str(p),
        "$TOT": str(n),
    }
    for i, name in enumerate(channels, start=1):
        keywords[f"$P{i}N"] = name
        keywords[f"$P{i}B"] = "16" if integer else "32"
        keywords[f"$P{i}E"] = "0,0"
        keywords[f"$P{i}R"] = "1024" if integer else "262144"
        if markers and markers[i - 1]:
            keywords[f"$P{i}S"] = markers[i - 1]
    if spillover is not None:
        names, matrix = spillover
        values = np.asarray(matrix, dtype=float).reshape(-1)
        keywords[spill_keyword] = ",".join(
            [str(len(names)), *names, *(repr(float(v)) for v in values)]
        )
    keywords.update(extra or {})
    raw = data.astype("<u2").tobytes() if integer else data.astype("<f4").tobytes()
    # Offsets depend on the TEXT length, which depends on the offsets: iterate to a fixed point.
    begin = end = 0
    for _ in range(5):
        keywords["$BEGINDATA"], keywords["$ENDDATA"] = str(begin), str(end)
        text = ("|" + "|".join(f"{k}|{v}" for k, v in keywords.items()) + "|").encode("latin-1")
        text_start = 58
        text_end = text_start + len(text) - 1
        begin = text_end + 1
        end = begin + len(raw) - 1
    header = f"FCS{version}    ".encode()[:10]
    header += b"".join(str(v).rjust(8).encode() for v in (text_start, text_end, begin, end, 0, 0))
    path.write_bytes(header + text + raw)
    return path
