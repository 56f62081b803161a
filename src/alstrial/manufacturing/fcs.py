"""Reading FCS 2.0, 3.0 and 3.1 files (flow cytometry) into numpy, with the spillover matrix.

Parsing is FlowIO's (the reference implementation's reader, small and pure Python); this module
adds what a release laboratory needs around it:

- HEADER offsets left blank (allowed when a segment lies beyond 99,999,999 bytes, and written
  blank by some instruments) are read from TEXT's ``$BEGINDATA``/``$ENDDATA``;
- a strict read refuses a DATA segment whose offsets disagree with ``$TOT x $PAR``
  (a known Miltenyi off-by-one); ``strict=False`` reads it and records a warning;
- the spillover matrix is found under ``$SPILLOVER`` (FCS 3.1), ``SPILL`` (BD's keyword) or
  ``$COMP`` (FCS 3.0), and a keyword that names channels but holds no values is refused;
- values are returned on the linear scale: log-amplified channels ($PnE, as on the
  FACSCalibur's scatter and FL channels) are decoded and linear gains ($PnG) divided out;
- every failure is an :class:`FcsError` naming the file and the problem.

Reference: Data File Standard for Flow Cytometry, FCS 3.1 (Spidlen et al. 2010, Cytometry A
77:97-100); FlowIO (White et al., https://github.com/whitews/FlowIO).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from alstrial.exceptions import ValidationError

__all__ = ["FcsError", "FcsSample", "Spillover", "parse_fcs", "parse_spillover", "read_fcs"]

_HEADER_BYTES = 58
_SPILL_KEYWORDS = ("spillover", "spill", "comp")


class FcsError(ValidationError):
    """An FCS file that cannot be read, with the file and the problem named."""


@dataclass(frozen=True)
class Spillover:
    """A spillover matrix: row i says how much of channel i's dye each channel sees."""

    channels: tuple[str, ...]
    matrix: npt.NDArray[np.float64]
    keyword: str


@dataclass(frozen=True)
class FcsSample:
    """The events and metadata of one FCS file."""

    path: str
    version: str
    channels: tuple[str, ...]  # $PnN
    markers: tuple[str, ...]  # $PnS ('' when absent)
    events: npt.NDArray[np.float64]  # (events, channels)
    ranges: tuple[float, ...]  # $PnR
    keywords: dict[str, str] = field(repr=False)
    spillover: Spillover | None = None
    spillover_problem: str | None = None
    warnings: tuple[str, ...] = ()

    def channel_index(self, name: str) -> int:
        """Index of a channel by its $PnN name or its $PnS marker (case-insensitive)."""
        wanted = name.lower()
        for i, (channel, marker) in enumerate(zip(self.channels, self.markers, strict=True)):
            if wanted in (channel.lower(), marker.lower()):
                return i
        raise FcsError(
            f"{Path(self.path).name} has no channel or marker {name!r}",
            field="channel",
            value=name,
            allowed=", ".join(
                f"{c} ({m})" if m else c for c, m in zip(self.channels, self.markers, strict=True)
            ),
        )


def _fail(path: str, problem: str) -> FcsError:
    return FcsError(f"{Path(path).name}: {problem}", field="file", value=str(path))


def _text_keyword(raw: bytes, header: bytes, keyword: str) -> str | None:
    """A keyword's value from the TEXT segment (delimiter = its first byte)."""
    start, end = int(header[10:18]), int(header[18:26])
    text = raw[start : end + 1]
    if len(text) < 2:
        return None
    delimiter = text[:1]
    parts = text[1:].replace(delimiter * 2, b"\0").split(delimiter)
    for key, value in zip(parts[::2], parts[1::2], strict=False):
        if key.strip().upper() == keyword.upper().encode():
            return value.replace(b"\0", delimiter).decode("latin-1").strip()
    return None


def _repair_header(path: str, raw: bytes) -> tuple[bytes, list[str]]:
    """Fill blank HEADER data offsets from TEXT's $BEGINDATA/$ENDDATA (or with zeros)."""
    notes: list[str] = []
    if len(raw) < _HEADER_BYTES:
        raise _fail(path, f"{len(raw)} bytes is too short for an FCS HEADER ({_HEADER_BYTES})")
    if raw[:3] != b"FCS":
        raise _fail(path, "does not start with 'FCS': not an FCS file")
    header = bytearray(raw[:_HEADER_BYTES])
    for start in (10, 18):
        if not bytes(header[start : start + 8]).strip().isdigit():
            raise _fail(path, f"HEADER TEXT offset at byte {start} is not a number")
    for start, keyword in ((26, "$BEGINDATA"), (34, "$ENDDATA"), (42, None), (50, None)):
        field_bytes = bytes(header[start : start + 8])
        if field_bytes.strip() == b"":
            value = _text_keyword(raw, bytes(header), keyword) if keyword else None
            filled = value if value is not None and value.isdigit() and len(value) <= 8 else "0"
            header[start : start + 8] = filled.rjust(8).encode()
            if keyword:
                notes.append(f"HEADER {keyword[1:].lower()} offset is blank; TEXT {keyword} used")
        elif not field_bytes.strip().isdigit():
            raise _fail(path, f"HEADER offset {field_bytes!r} at byte {start} is not a number")
    if bytes(header) == raw[:_HEADER_BYTES]:
        return raw, notes
    return bytes(header) + raw[_HEADER_BYTES:], notes


def parse_spillover(text: str, keyword: str, path: str = "") -> Spillover | None:
    """Parse ``n, name_1..name_n, v_11..v_nn``; an empty keyword gives ``None``."""
    parts = [part.strip() for part in text.split(",")]
    if not parts or parts == [""]:
        return None
    try:
        n = int(float(parts[0]))
    except ValueError:
        raise _fail(
            path, f"spillover keyword {keyword} does not start with a channel count"
        ) from None
    if n == 0:
        return None
    names = parts[1 : 1 + n]
    values = parts[1 + n :]
    if len(names) != n or len(values) != n * n:
        raise _fail(
            path,
            f"spillover keyword {keyword} lists {n} channels but holds {len(values)} values "
            f"(expected {n * n}); the file has no usable compensation",
        )
    try:
        matrix = np.array([float(v) for v in values]).reshape(n, n)
    except ValueError:
        raise _fail(
            path, f"spillover keyword {keyword} holds a value that is not a number"
        ) from None
    return Spillover(tuple(names), matrix, keyword)


@dataclass(frozen=True)
class _Layout:
    dtype: np.dtype[Any]
    masks: npt.NDArray[np.uint64] | None


def _layout(path: str, text: dict[str, str], count: int) -> _Layout | None:
    """numpy dtype of one value and the integer bit masks, or None for mixed widths."""
    datatype = text.get("datatype", "").upper()
    order = text.get("byteord", "1,2,3,4").replace(" ", "")
    if order in ("1,2,3,4", "1,2", "1", "1,2,3,4,5,6,7,8"):
        endian = "<"
    elif order in ("4,3,2,1", "2,1", "8,7,6,5,4,3,2,1"):
        endian = ">"
    else:
        raise _fail(path, f"byte order $BYTEORD {order} is not supported")
    if text.get("mode", "L").upper() != "L":
        raise _fail(path, f"$MODE {text.get('mode')} is not list mode; only L is supported")
    bits = {int(text.get(f"p{i}b", "0") or 0) for i in range(1, count + 1)}
    if datatype in ("F", "D"):
        width = 4 if datatype == "F" else 8
        return _Layout(np.dtype(f"{endian}f{width}"), None)
    if datatype != "I":
        raise _fail(path, f"$DATATYPE {datatype!r} is not supported (I, F or D)")
    if len(bits) != 1 or next(iter(bits)) not in (8, 16, 32, 64):
        return None
    width = next(iter(bits)) // 8
    masks = []
    for i in range(1, count + 1):
        top = float(text.get(f"p{i}r", "0") or 0)
        exponent = int(np.ceil(np.log2(top))) if top > 1 else 8 * width
        masks.append((1 << min(exponent, 8 * width)) - 1)
    return _Layout(np.dtype(f"{endian}u{width}"), np.array(masks, dtype=np.uint64))


def _numpy_events(
    path: str,
    raw: bytes,
    header: dict[str, Any],
    text: dict[str, str],
    count: int,
    layout: _Layout,
    strict: bool,
    notes: list[str],
) -> npt.NDArray[np.float64]:
    """DATA as (events, channels): one frombuffer, offsets checked against $TOT."""
    total = int(text.get("tot", "0") or 0)
    start, stop = int(header["data_start"]), int(header["data_stop"])
    if start == 0 and stop == 0:
        start = int(text.get("begindata", "0") or 0)
        stop = int(text.get("enddata", "0") or 0)
    need = total * count * layout.dtype.itemsize
    held = stop - start + 1
    if start + need > len(raw) and stop >= len(raw):
        raise _fail(
            path,
            f"the DATA segment ends at byte {stop}, past the end of the file ({len(raw)} bytes)",
        )
    if held != need:
        if abs(held - need) == 1 and not strict:
            notes.append(
                f"DATA offsets are off by one ({held} bytes for {need}); read from byte {start}"
            )
        elif abs(held - need) == 1:
            raise _fail(
                path,
                "the file reports a data offset that is off by 1. read it "
                "tolerantly (strict=False; --tolerant on the command line) to "
                "accept it",
            )
        else:
            raise _fail(
                path, f"$TOT x $PAR needs {need} bytes of DATA but the segment holds {held}"
            )
    if start + need > len(raw):
        start = stop - need + 1
    values = np.frombuffer(raw, dtype=layout.dtype, count=total * count, offset=start)
    values = values.reshape(total, count)
    if layout.masks is not None:
        values = values.astype(np.uint64) & layout.masks
    return np.asarray(values, dtype=np.float64)


def _flowio_events(
    path: str, raw: bytes, strict: bool, count: int, notes: list[str]
) -> npt.NDArray[np.float64]:
    import flowio

    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            data = flowio.FlowData(io.BytesIO(raw), ignore_offset_error=not strict)
        notes += [_plain(str(w.message)) for w in seen]
    except Exception as error:
        raise _fail(path, _plain(str(error)) or type(error).__name__) from None
    return np.asarray(data.events, dtype=np.float64).reshape(-1, count)


def _to_linear(
    events: npt.NDArray[np.float64], keywords: dict[str, str], count: int
) -> npt.NDArray[np.float64]:
    """Undo log amplification ($PnE = f1,f2 with f1 > 0: value = f2' 10^(f1 x / $PnR), f2' = f2
    or 1) and linear gain ($PnG), as FCS 3.1 section 3.3.30 prescribes; other channels as
    stored."""
    for i in range(1, count + 1):
        amplification = keywords.get(f"p{i}e", "0,0").replace(" ", "").split(",")
        try:
            decades, offset = (float(amplification[0]), float(amplification[1]))
        except (IndexError, ValueError):
            decades, offset = 0.0, 0.0
        top = float(keywords.get(f"p{i}r", "0") or 0)
        if decades > 0 and top > 0:
            scale = offset if offset > 0 else 1.0
            events[:, i - 1] = scale * 10 ** (decades * events[:, i - 1] / top)
            continue
        gain = float(keywords.get(f"p{i}g", "1") or 1)
        if gain not in (0.0, 1.0):
            events[:, i - 1] = events[:, i - 1] / gain
    return events


def _plain(message: str) -> str:
    """FlowIO's message without its in-memory file name and its keyword advice."""
    message = message.replace("FCS file InMemoryFile ", "the file ").replace("InMemoryFile ", "")
    return message.replace(
        "Set `ignore_offset_error=True` to force reading in this file.",
        "read it tolerantly (strict=False; --tolerant on the command line) to accept it",
    ).strip()


def read_fcs(path: str | Path, *, strict: bool = True) -> FcsSample:
    """Read an FCS 2.0/3.0/3.1 file (module docstring).

    Parameters
    ----------
    path
        The file.
    strict
        Refuse a DATA segment whose offsets disagree with the event count (default); with
        ``False``, read it and record a warning on the sample.

    Raises
    ------
    FcsError
        For a missing, truncated, corrupt or inconsistent file, naming the file and the
        problem.
    """
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise _fail(name, f"cannot be read ({error.strerror})") from None
    return parse_fcs(raw, name, strict=strict)


def parse_fcs(raw: bytes, name: str, *, strict: bool = True) -> FcsSample:
    """Read an FCS file's bytes (an upload, say); ``name`` names it in errors and on the
    sample. Otherwise as :func:`read_fcs`."""
    import flowio  # deferred: only flow analyses need it

    repaired, notes = _repair_header(name, raw)
    caught: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            data = flowio.FlowData(io.BytesIO(repaired), only_text=True)
        caught = [_plain(str(w.message)) for w in seen]
    except Exception as error:  # FlowIO raises ValueError, FCSParsingError, struct errors
        raise _fail(name, _plain(str(error)) or type(error).__name__) from None
    count = int(data.channel_count)
    text = {str(k).lower(): str(v) for k, v in data.text.items()}
    layout = _layout(name, text, count)
    if layout is None:  # mixed integer widths: FlowIO's general parser
        events = _flowio_events(name, repaired, strict, count, caught)
    else:
        events = _numpy_events(name, repaired, data.header, text, count, layout, strict, caught)
    keywords = text
    events = _to_linear(events, keywords, count)
    described = [data.channels.get(i, {}) for i in range(1, count + 1)]
    channels = tuple(str(c.get("pnn", f"P{i}")) for i, c in enumerate(described, start=1))
    markers = tuple(str(c.get("pns", "") or "") for c in described)
    ranges = tuple(float(c.get("pnr", "nan")) for c in described)
    spillover, problem = None, None
    for keyword in _SPILL_KEYWORDS:
        if keyword in keywords:
            try:
                spillover = parse_spillover(keywords[keyword], keyword.upper(), name)
            except FcsError as error:
                problem = error.message
            break
    return FcsSample(
        path=name,
        version=str(data.version),
        channels=channels,
        markers=markers,
        events=events,
        ranges=ranges,
        keywords=keywords,
        spillover=spillover,
        spillover_problem=problem,
        warnings=tuple(notes + caught),
    )
