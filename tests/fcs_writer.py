"""An FCS writer for tests: files with exactly known contents in every layout the reader
supports (integers of any width, whole-byte or bit-packed, floats, doubles, ASCII fixed or
delimited, any byte order), several data sets, and offsets that lie on purpose, so that the
reader and the flow analysis run without ../shared and each layout is checked value by value.

It is a second, independent encoder: values are laid out byte by byte with Python integers
(``int.to_bytes``), not with the numpy views the reader uses.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import numpy.typing as npt


def _encode(
    data: npt.NDArray[np.float64],
    datatype: str,
    bits: list[int],
    byteord: str,
    packed: bool,
    delimited: bool,
) -> bytes:
    order = [int(part) for part in byteord.split(",")]
    little = order[0] == 1 and order == sorted(order)
    big = order == sorted(order, reverse=True)
    if datatype in ("F", "D"):
        code = "f" if datatype == "F" else "d"
        blob = bytearray()
        for value in data.reshape(-1):
            little_bytes = struct.pack("<" + code, float(value))
            if little or big:
                blob += little_bytes if little else little_bytes[::-1]
            else:  # stored byte j is the byte of significance order[j]
                blob += bytes(little_bytes[o - 1] for o in order)
        return bytes(blob)
    if datatype == "A":
        if delimited:
            return " ".join(
                repr(float(v)).rstrip("0").rstrip(".") for v in data.reshape(-1)
            ).encode()
        out = bytearray()
        for row in data:
            for value, width in zip(row, bits, strict=True):
                out += str(int(value)).rjust(width).encode()
        return bytes(out)
    if packed:
        stream = "".join(
            format(int(value), f"0{width}b")
            for row in data
            for value, width in zip(row, bits, strict=True)
        )
        stream += "0" * (-len(stream) % 8)
        return int(stream, 2).to_bytes(len(stream) // 8, "big") if stream else b""
    blob = bytearray()
    for row in data:
        for value, width in zip(row, bits, strict=True):
            size = (width + 7) // 8
            raw = int(value).to_bytes(size, "little")
            if little:
                blob += raw
            elif big:
                blob += raw[::-1]
            else:
                blob += bytes(raw[o - 1] for o in order)
    return bytes(blob)


def fcs_bytes(
    events: npt.ArrayLike,
    channels: list[str],
    *,
    markers: list[str] | None = None,
    version: str = "3.1",
    datatype: str | None = None,
    bits: list[int] | int | None = None,
    ranges: list[float] | float | None = None,
    byteord: str = "1,2,3,4",
    packed: bool = False,
    delimited: bool = False,
    spillover: tuple[list[str], npt.ArrayLike] | None = None,
    spill_keyword: str = "$SPILLOVER",
    extra: dict[str, str] | None = None,
    header_data: tuple[int, int] | None = None,
    text_data: tuple[int, int] | None = None,
    blank_header_data: bool = False,
    drop: tuple[str, ...] = (),
    raw_override: bytes | None = None,
    nextdata: int | None = None,
) -> bytes:
    """One data set's bytes. ``version`` 2.0 defaults to 16-bit integers, else float32;
    ``header_data``/``text_data`` replace the true DATA offsets in HEADER or TEXT;
    ``drop`` removes keywords (``$P1R``); ``raw_override`` replaces the DATA bytes;
    ``nextdata`` is written 10 digits wide so that its value does not change the size."""
    data = np.asarray(events, dtype=np.float64)
    n, p = data.shape
    if datatype is None:
        datatype = "I" if version == "2.0" else "F"
    width = {"F": 32, "D": 64, "I": 16, "A": 8}[datatype]
    bit_list = [bits] * p if isinstance(bits, int) else list(bits or [width] * p)
    if ranges is None:
        range_list = [1024.0 if datatype == "I" else 262144.0] * p
    else:
        range_list = [ranges] * p if isinstance(ranges, int | float) else list(ranges)
    keywords: dict[str, str] = {
        "$BYTEORD": byteord,
        "$DATATYPE": datatype,
        "$MODE": "L",
        "$NEXTDATA": "0" if nextdata is None else str(nextdata).rjust(10, "0"),
        "$PAR": str(p),
        "$TOT": str(n),
    }
    for i, name in enumerate(channels, start=1):
        keywords[f"$P{i}N"] = name
        keywords[f"$P{i}B"] = "*" if delimited else str(bit_list[i - 1])
        keywords[f"$P{i}E"] = "0,0"
        top = range_list[i - 1]
        keywords[f"$P{i}R"] = str(int(top)) if float(top).is_integer() else repr(float(top))
        if markers and markers[i - 1]:
            keywords[f"$P{i}S"] = markers[i - 1]
    if spillover is not None:
        names, matrix = spillover
        values = np.asarray(matrix, dtype=float).reshape(-1)
        keywords[spill_keyword] = ",".join(
            [str(len(names)), *names, *(repr(float(v)) for v in values)]
        )
    keywords.update(extra or {})
    for key in drop:
        keywords.pop(key, None)
    raw = (
        raw_override
        if raw_override is not None
        else _encode(data, datatype, bit_list, byteord, packed, delimited)
    )
    # Offsets depend on the TEXT length, which depends on the offsets: iterate to a fixed point.
    begin = end = 0
    text = b""
    for _ in range(6):
        shown = text_data or (begin, end)
        keywords["$BEGINDATA"], keywords["$ENDDATA"] = str(shown[0]), str(shown[1])
        text = ("|" + "|".join(f"{k}|{v}" for k, v in keywords.items()) + "|").encode("utf-8")
        begin = 58 + len(text)
        end = begin + len(raw) - 1
    header = f"FCS{version}    ".encode()[:10]
    data_pair = header_data or ((begin, end) if end <= 99_999_999 else (0, 0))  # FCS 3.1 3.2.5
    fields = [58, 58 + len(text) - 1, *data_pair, 0, 0]
    header += b"".join(str(v).rjust(8).encode() for v in fields)
    if blank_header_data:
        header = header[:26] + b" " * 16 + header[42:]
    return header + text + raw


def chain(*specs: tuple[npt.ArrayLike, list[str], dict[str, object]]) -> bytes:
    """Data sets joined with $NEXTDATA pointing from each to the next (as Beckman's LMD);
    each spec is (events, channels, options of :func:`fcs_bytes`)."""
    blobs = []
    for i, (events, channels, options) in enumerate(specs):
        if i == len(specs) - 1:
            blobs.append(fcs_bytes(events, channels, **options))  # type: ignore[arg-type]
            continue
        sized = fcs_bytes(events, channels, nextdata=10**9, **options)  # type: ignore[arg-type]
        blobs.append(fcs_bytes(events, channels, nextdata=len(sized), **options))  # type: ignore[arg-type]
    return b"".join(blobs)


def write_fcs(path: Path, events: npt.ArrayLike, channels: list[str], **options: object) -> Path:
    """Write one data set to ``path`` (options as :func:`fcs_bytes`)."""
    path.write_bytes(fcs_bytes(events, channels, **options))  # type: ignore[arg-type]
    return path
