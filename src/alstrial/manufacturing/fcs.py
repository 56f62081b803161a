"""Reading FCS 2.0, 3.0, 3.1 and 3.2 files (flow cytometry) into numpy, with the spillover
matrix: every data set, every data type, the offsets checked.

alstrial reads FCS itself (segments: :mod:`~alstrial.manufacturing.fcs_segments`; data:
:mod:`~alstrial.manufacturing.fcs_data`). Around the standard, what a release laboratory meets:

- **Several data sets** (``$NEXTDATA``, Beckman Coulter's LMD files): :func:`inspect_fcs` lists
  them, ``dataset=`` picks one; a file of several read without a choice is refused with the
  list, never read at random.
- **Where the DATA lie**: HEADER offsets and TEXT's ``$BEGINDATA``/``$ENDDATA`` are both read.
  Where they disagree, the pair whose segment is exactly ``$TOT`` events long and inside the
  file is used, and the sample's warnings say which (for a Cyan file TEXT is right, for an
  Accuri HEADER); where neither is, nothing is guessed. A segment one byte longer or shorter
  than the events need (a known Miltenyi off-by-one) is refused by a strict read and read from
  its first byte by a tolerant one, with a warning. Blank HEADER offsets (allowed beyond
  99,999,999 bytes) are taken from TEXT.
- **Values on the linear scale** (``scale="linear"``, the default): log-amplified channels
  (``$PnE`` = f1,f2 with f1 > 0, integer data) are decoded as f2' 10^(f1 x / $PnR), f2' = f2 or
  1 when f2 is 0; linear gains (``$PnG``) divided out; the time channel (``$PnN`` Time)
  multiplied by ``$TIMESTEP``, so that time is in seconds whatever the vendor.
  ``scale="raw"`` returns the stored values (masked integers), as FlowIO's ``events``.
- **Saturation on the stored scale**: :attr:`FcsSample.saturation` holds, per channel, the
  linear value of the top of ``$PnR`` (raw ``$PnR`` - 1), so that a gate drops the saturated
  events and only those, whatever the amplification.
- **Spillover** under ``$SPILLOVER`` (FCS 3.1), ``SPILL`` (BD's keyword) or ``$COMP`` (FCS 3.0);
  a keyword that names channels but holds no values is recorded as the problem.
- every failure is an :class:`FcsError` naming the file, the keyword and the channel where
  there is one, and what to do.

Reference: Data File Standard for Flow Cytometry, FCS 3.1 (Spidlen et al. 2010, Cytometry A
77:97-100); FCS 3.2 (Spidlen et al. 2021, Cytometry A 99:100-2).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import numpy.typing as npt

from alstrial.manufacturing.fcs_data import Layout, candidate_layouts, channel_range, decode
from alstrial.manufacturing.fcs_segments import (
    DataSetText,
    FcsError,
    data_sets,
    fail,
    int_keyword,
    whole_number,
)

__all__ = [
    "ChannelInfo",
    "DataSetInfo",
    "FcsError",
    "FcsSample",
    "Spillover",
    "inspect_fcs",
    "parse_fcs",
    "parse_spillover",
    "read_fcs",
    "read_fcs_data_sets",
]

Scale = Literal["linear", "raw"]
_SPILL_KEYWORDS = ("spillover", "spill", "comp")


@dataclass(frozen=True)
class Spillover:
    """A spillover matrix: row i says how much of channel i's dye each channel sees."""

    channels: tuple[str, ...]
    matrix: npt.NDArray[np.float64]
    keyword: str


@dataclass(frozen=True)
class FcsSample:
    """The events and metadata of one data set of an FCS file."""

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
    dataset: int = 1
    datasets: int = 1
    datatype: str = ""
    saturation: tuple[float, ...] = ()  # per channel, on the events' scale (module docstring)

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


@dataclass(frozen=True)
class ChannelInfo:
    """One channel as its keywords describe it."""

    number: int
    name: str  # $PnN
    marker: str  # $PnS
    bits: str  # $PnB
    range: str  # $PnR
    amplification: str  # $PnE
    gain: str  # $PnG


@dataclass(frozen=True)
class DataSetInfo:
    """What :func:`inspect_fcs` reports of one data set, without decoding its events."""

    dataset: int
    offset: int
    version: str
    events: int | None  # $TOT
    datatype: str
    layout: str
    cytometer: str
    date: str
    timestep: str
    spillover: str  # keyword and size, or the problem, or ''
    data_segment: str  # bytes a-b, or why it cannot be read
    channels: tuple[ChannelInfo, ...]
    warnings: tuple[str, ...]


def parse_spillover(text: str, keyword: str, path: str = "") -> Spillover | None:
    """Parse ``n, name_1..name_n, v_11..v_nn``; an empty keyword gives ``None``."""
    parts = [part.strip() for part in text.split(",")]
    if not parts or parts == [""]:
        return None
    try:
        n = int(float(parts[0]))
    except ValueError:
        raise fail(
            path, f"spillover keyword {keyword} does not start with a channel count"
        ) from None
    if n == 0:
        return None
    names = parts[1 : 1 + n]
    values = parts[1 + n :]
    if len(names) != n or len(values) != n * n:
        raise fail(
            path,
            f"spillover keyword {keyword} lists {n} channels but holds {len(values)} values "
            f"(expected {n * n}); the file has no usable compensation",
        )
    try:
        matrix = np.array([float(v) for v in values]).reshape(n, n)
    except ValueError:
        raise fail(
            path, f"spillover keyword {keyword} holds a value that is not a number"
        ) from None
    if not np.isfinite(matrix).all():
        raise fail(path, f"spillover keyword {keyword} holds a value that is not finite")
    return Spillover(tuple(names), matrix, keyword)


def _count(text: DataSetText, name: str) -> int:
    count = int_keyword(text.keywords, "par")
    if count is None or count < 1:
        value = text.keywords.get("par", "")
        raise fail(name, f"$PAR (the number of channels) is {value!r}, not a positive number")
    return count


def _events_keyword(text: DataSetText, name: str) -> int | None:
    value = text.keywords.get("tot", "").strip()
    if not value:
        return None
    events = whole_number(value)
    if events is None:
        raise fail(name, f"$TOT (the number of events) is {value!r}, not a number")
    return events


@dataclass(frozen=True)
class _Located:
    start: int  # absolute byte of the first event
    events: int
    layout: Layout
    notes: tuple[str, ...]


def _offset_pairs(text: DataSetText) -> list[tuple[str, tuple[int, int]]]:
    pairs: list[tuple[str, tuple[int, int]]] = []
    if text.header.data is not None:
        pairs.append(("HEADER", text.header.data))
    begin = int_keyword(text.keywords, "begindata")
    end = int_keyword(text.keywords, "enddata")
    if begin is not None and end is not None and (begin, end) != (0, 0):
        pair = (begin, end)
        if not pairs or pairs[0][1] != pair:
            pairs.append(("TEXT", pair))
    return pairs


def _locate(text: DataSetText, size: int, name: str, strict: bool) -> _Located:
    """Where the events lie and how (module docstring: offsets)."""
    count = _count(text, name)
    layouts = candidate_layouts(text.keywords, count, name)
    total = _events_keyword(text, name)
    pairs = _offset_pairs(text)
    if not pairs:
        if total == 0:
            return _Located(text.base, 0, layouts[0], ())
        raise fail(name, "neither the HEADER nor TEXT ($BEGINDATA/$ENDDATA) says where DATA is")
    notes: list[str] = []
    if text.header.data is None and any(source == "TEXT" for source, _ in pairs):
        notes.append("HEADER DATA offsets are blank; TEXT $BEGINDATA/$ENDDATA used")
    fits: list[tuple[str, tuple[int, int], Layout, int]] = []
    near: list[tuple[str, tuple[int, int], Layout, int]] = []
    for source, (first, last) in pairs:
        held = last - first + 1
        inside = text.base + last < size
        for layout in layouts:
            events = total
            if events is None:
                bits = layout.row_bits()
                if bits == 0 or (8 * held) % bits:
                    continue
                events = 8 * held // bits
            need = layout.segment_bytes(events)
            if need is None:  # delimited ASCII: each value takes a digit and a separator
                if inside and held > 0 and events * count <= (held + 1) // 2:
                    fits.append((source, (first, last), layout, events))
            elif held == need and inside:
                fits.append((source, (first, last), layout, events))
            elif abs(held - need) == 1 and text.base + first + need <= size:
                near.append((source, (first, last), layout, events))
    chosen = {pair for _, pair, _, _ in fits}
    if len(chosen) > 1:
        described = " and ".join(f"{s} {a}-{b}" for s, (a, b), _, _ in fits)
        raise fail(
            name,
            f"data set {text.index}: HEADER and TEXT give two different DATA segments of the "
            f"right size ({described}); the file cannot say which holds the events",
        )
    if fits:
        source, (first, last), layout, events = fits[0]
        if len(pairs) > 1:
            other = next(p for p in pairs if p[0] != source)
            notes.append(
                f"HEADER and TEXT disagree on the DATA offsets ({pairs[0][0]} "
                f"{pairs[0][1][0]}-{pairs[0][1][1]}, {pairs[1][0]} {pairs[1][1][0]}-"
                f"{pairs[1][1][1]}); {source}'s segment holds exactly the events "
                f"({other[0]}'s does not) and was read"
            )
        if layout.note:
            notes.append(layout.note)
        return _Located(text.base + first, events, layout, tuple(notes))
    if near:
        source, (first, last), layout, events = near[0]
        need = layout.segment_bytes(events)
        held = last - first + 1
        if strict:
            raise fail(
                name,
                f"the DATA segment ({source} offsets {first}-{last}) is off by one byte "
                f"({held} bytes for {need}); read it tolerantly (strict=False; --tolerant "
                "on the command line) to read the events from its first byte",
            )
        notes.append(
            f"DATA offsets are off by one ({held} bytes for {need}); read from byte {first}"
        )
        if layout.note:
            notes.append(layout.note)
        return _Located(text.base + first, events, layout, tuple(notes))
    raise fail(name, _no_fit(text, pairs, layouts, total, size))


def _no_fit(
    text: DataSetText,
    pairs: list[tuple[str, tuple[int, int]]],
    layouts: list[Layout],
    total: int | None,
    size: int,
) -> str:
    layout = layouts[0]
    held = ", ".join(f"{s} {a}-{b} ({b - a + 1} bytes)" for s, (a, b) in pairs)
    past = [s for s, (_, b) in pairs if text.base + b >= size]
    if past and len(past) == len(pairs):
        last = max(b for _, (_, b) in pairs)
        return (
            f"the DATA segment ends at byte {text.base + last}, past the end of the file "
            f"({size} bytes): the file is truncated or is a HEADER without its data"
        )
    if total is None:
        return f"$TOT is missing and the DATA segment ({held}) is not a whole number of events"
    if layout.kind == "delimited":
        return (
            f"the ASCII DATA segment ({held}) is too short for $TOT {total} events x "
            f"$PAR {len(layout.widths) or '?'} channels"
        )
    sizes = " or ".join(
        f"{lay.segment_bytes(total)} ({lay.describe()})" for lay in layouts if lay.row_bits()
    )
    return (
        f"$TOT {total} events x $PAR {len(layout.widths)} channels need {sizes} bytes of DATA "
        f"but the segment holds {held}"
    )


@dataclass(frozen=True)
class _LinearPlan:
    """Per channel, how a stored value becomes linear (module docstring), applied to each
    decoded block while it is in cache: a multiplier (time step, 1 / gain) or a table (log
    amplification of integers) or a decade exponent (log amplification of other data)."""

    multipliers: tuple[tuple[int, float], ...]
    tables: tuple[tuple[int, npt.NDArray[np.float64]], ...]
    exponents: tuple[tuple[int, float, float], ...]  # column, decades / top, scale
    saturation: tuple[float, ...]
    notes: tuple[str, ...]

    def apply(self, block: npt.NDArray[np.float64]) -> None:
        """Convert a block of decoded rows in place."""
        for index, table in self.tables:
            column = block[:, index]
            column[:] = table[column.astype(np.intp)]
        for index, rate, scale in self.exponents:
            column = block[:, index]
            np.multiply(column, rate, out=column)
            np.power(10.0, column, out=column)
            column *= scale
        for index, factor in self.multipliers:
            block[:, index] *= factor


#: Largest integer range decoded through a lookup table (512 KiB of float64: it stays in
#: cache; a larger one is slower than computing the power).
_TABLE_LIMIT = 1 << 16


def _linear_plan(
    text: DataSetText, layout: Layout, ranges: tuple[float, ...], name: str
) -> _LinearPlan:
    """The conversion to the linear scale and each channel's saturation limit on it, given
    each channel's ``$PnR``."""
    keywords = text.keywords
    notes: list[str] = []
    multipliers: list[tuple[int, float]] = []
    tables: list[tuple[int, npt.NDArray[np.float64]]] = []
    exponents: list[tuple[int, float, float]] = []
    limits: list[float] = []
    timestep = _timestep(keywords, notes)
    floats = layout.datatype in ("F", "D")
    for i, top in enumerate(ranges, start=1):
        raw_top = top - 1.0 if floats else top - 1.5  # integers: between R - 2 and R - 1
        if keywords.get(f"p{i}n", "").strip().lower() == "time":
            if timestep is not None:
                multipliers.append((i - 1, timestep))
            limits.append(np.inf)
            continue
        decades, offset = _amplification(keywords, i, name)
        if decades > 0 and floats:
            notes.append(
                f"$P{i}E {keywords.get(f'p{i}e')} ignored: {layout.datatype} data are stored "
                "linear (FCS 3.1)"
            )
            decades = 0.0
        if decades > 0:
            scale = offset if offset > 0 else 1.0
            mask = layout.masks[i - 1] if layout.masks is not None else None
            if layout.datatype == "I" and mask is not None and mask < _TABLE_LIMIT:
                steps = np.arange(mask + 1, dtype=np.float64)
                tables.append((i - 1, scale * 10 ** (decades * steps / top)))
            else:
                exponents.append((i - 1, decades / top, scale))
            limits.append(scale * 10 ** (decades * raw_top / top))
            continue
        gain = _gain(keywords, i, name)
        if gain not in (0.0, 1.0):
            multipliers.append((i - 1, 1.0 / gain))
            limits.append(raw_top / gain)
        else:
            limits.append(raw_top)
    return _LinearPlan(
        tuple(multipliers), tuple(tables), tuple(exponents), tuple(limits), tuple(notes)
    )


def _timestep(keywords: dict[str, str], notes: list[str]) -> float | None:
    value = keywords.get("timestep", "").strip()
    if not value:
        return None
    try:
        step = float(value)
    except ValueError:
        notes.append(f"$TIMESTEP {value!r} is not a number; time left in its stored units")
        return None
    if not np.isfinite(step) or step <= 0:
        notes.append(f"$TIMESTEP {value!r} is not positive; time left in its stored units")
        return None
    return step


def _amplification(keywords: dict[str, str], i: int, name: str) -> tuple[float, float]:
    value = keywords.get(f"p{i}e", "0,0").strip() or "0,0"
    parts = value.replace(" ", "").split(",")
    try:
        decades, offset = float(parts[0]), float(parts[1])
    except (IndexError, ValueError):
        raise fail(
            name,
            f"$P{i}E of channel {i} ({keywords.get(f'p{i}n', '')}) is {value!r}; "
            "amplification is 'decades,offset' (0,0 for linear)",
        ) from None
    if not (np.isfinite(decades) and np.isfinite(offset)) or decades < 0:
        raise fail(name, f"$P{i}E of channel {i} is {value!r}; decades must be >= 0")
    return decades, offset


def _gain(keywords: dict[str, str], i: int, name: str) -> float:
    value = keywords.get(f"p{i}g", "").strip()
    if not value:
        return 1.0
    try:
        gain = float(value)
    except ValueError:
        raise fail(
            name,
            f"$P{i}G (the gain of channel {i}, {keywords.get(f'p{i}n', '')}) is {value!r}, "
            "not a number",
        ) from None
    if not np.isfinite(gain) or gain < 0:
        raise fail(name, f"$P{i}G of channel {i} is {value!r}; a gain must be >= 0")
    return gain


def _sample(
    stream: BinaryIO,
    size: int,
    text: DataSetText,
    name: str,
    strict: bool,
    scale: Scale,
    datasets: int,
) -> FcsSample:
    located = _locate(text, size, name, strict)
    count = _count(text, name)
    keywords = text.keywords
    ranges = tuple(channel_range(keywords, i, name) for i in range(1, count + 1))
    notes = list(text.notes) + list(located.notes)
    plan = _linear_plan(text, located.layout, ranges, name) if scale == "linear" else None
    events = np.empty((located.events, count), dtype=np.float64)
    decode(
        stream,
        located.start,
        located.events,
        count,
        located.layout,
        name,
        events,
        None if plan is None else plan.apply,
    )
    if plan is not None:
        saturation, notes = plan.saturation, notes + list(plan.notes)
    else:
        saturation = tuple(r - 1.0 for r in ranges)
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
        version=text.header.version,
        channels=tuple(keywords.get(f"p{i}n", f"P{i}") or f"P{i}" for i in range(1, count + 1)),
        markers=tuple(keywords.get(f"p{i}s", "") for i in range(1, count + 1)),
        events=events,
        ranges=ranges,
        keywords=keywords,
        spillover=spillover,
        spillover_problem=problem,
        warnings=tuple(notes),
        dataset=text.index,
        datasets=datasets,
        datatype=located.layout.datatype,
        saturation=saturation,
    )


@contextmanager
def _opened(path: str | Path) -> Iterator[BinaryIO]:
    """The file open for reading; an error of the system (missing, unreadable) as FcsError."""
    try:
        with open(path, "rb") as stream:
            yield stream
    except OSError as error:
        raise fail(str(path), f"cannot be read ({error.strerror})") from None


def _size(stream: BinaryIO) -> int:
    stream.seek(0, os.SEEK_END)
    return stream.tell()


def _read(
    stream: BinaryIO, name: str, strict: bool, scale: Scale, dataset: int | None
) -> FcsSample:
    size = _size(stream)
    texts = list(data_sets(stream, size, name))
    if dataset is None:
        if len(texts) > 1:
            raise fail(
                name,
                f"holds {len(texts)} data sets ($NEXTDATA); choose one with dataset=N "
                f"(--dataset N on the command line), 1 to {len(texts)}; `alstrial flow "
                "inspect` lists them",
            )
        dataset = 1
    if not 1 <= dataset <= len(texts):
        raise fail(name, f"has {len(texts)} data set(s); there is no data set {dataset}")
    return _sample(stream, size, texts[dataset - 1], name, strict, scale, len(texts))


def read_fcs(
    path: str | Path,
    *,
    strict: bool = True,
    dataset: int | None = None,
    scale: Scale = "linear",
) -> FcsSample:
    """Read one data set of an FCS file (module docstring).

    Parameters
    ----------
    path
        The file.
    strict
        Refuse a DATA segment one byte off the event count (default); with ``False``, read it
        from its first byte and record a warning on the sample.
    dataset
        Which data set (1-based) of a file with several; needed only then.
    scale
        ``linear`` (default) or ``raw`` (stored values, masked integers).

    Raises
    ------
    FcsError
        For a missing, truncated, corrupt or inconsistent file, naming the file, the keyword
        and the channel, and what to do.
    """
    with _opened(path) as stream:
        return _read(stream, str(path), strict, scale, dataset)


def parse_fcs(
    raw: bytes,
    name: str,
    *,
    strict: bool = True,
    dataset: int | None = None,
    scale: Scale = "linear",
) -> FcsSample:
    """Read an FCS file's bytes (an upload, say); ``name`` names it in errors and on the
    sample. Otherwise as :func:`read_fcs`."""
    return _read(io.BytesIO(raw), name, strict, scale, dataset)


def read_fcs_data_sets(
    path: str | Path, *, strict: bool = True, scale: Scale = "linear"
) -> list[FcsSample]:
    """Every data set of an FCS file, in file order (:func:`read_fcs` for each)."""
    name = str(path)
    with _opened(path) as stream:
        size = _size(stream)
        texts = list(data_sets(stream, size, name))
        return [_sample(stream, size, t, name, strict, scale, len(texts)) for t in texts]


def _info(text: DataSetText, size: int, name: str) -> DataSetInfo:
    keywords = text.keywords
    notes = list(text.notes)
    try:
        count = _count(text, name)
    except FcsError as error:
        count = 0
        notes.append(error.message)
    try:
        try:
            located, how = _locate(text, size, name, strict=True), "readable"
        except FcsError as strict_error:
            located = _locate(text, size, name, strict=False)
            how = f"readable only tolerantly (--tolerant): {strict_error.message}"
        layout = located.layout.describe()
        end = located.start + (located.layout.segment_bytes(located.events) or 1) - 1
        segment = f"bytes {located.start}-{end}: {how}"
        notes += located.notes
    except FcsError as error:
        layout, segment = "", f"not readable: {error.message}"
    spill = ""
    for keyword in _SPILL_KEYWORDS:
        if keyword in keywords:
            try:
                matrix = parse_spillover(keywords[keyword], keyword.upper(), name)
                spill = (
                    f"{keyword.upper()}: {len(matrix.channels)}x{len(matrix.channels)}"
                    if matrix
                    else f"{keyword.upper()}: empty"
                )
            except FcsError as error:
                spill = f"{keyword.upper()}: {error.message}"
            break
    return DataSetInfo(
        dataset=text.index,
        offset=text.base,
        version=text.header.version,
        events=int_keyword(keywords, "tot"),
        datatype=keywords.get("datatype", ""),
        layout=layout,
        cytometer=keywords.get("cyt", ""),
        date=keywords.get("date", ""),
        timestep=keywords.get("timestep", ""),
        spillover=spill,
        data_segment=segment,
        channels=tuple(
            ChannelInfo(
                number=i,
                name=keywords.get(f"p{i}n", ""),
                marker=keywords.get(f"p{i}s", ""),
                bits=keywords.get(f"p{i}b", ""),
                range=keywords.get(f"p{i}r", ""),
                amplification=keywords.get(f"p{i}e", ""),
                gain=keywords.get(f"p{i}g", ""),
            )
            for i in range(1, count + 1)
        ),
        warnings=tuple(notes),
    )


def inspect_fcs(path: str | Path) -> list[DataSetInfo]:
    """Each data set of an FCS file as its keywords describe it, and whether its DATA segment
    can be read (the events are not decoded).

    Raises
    ------
    FcsError
        When the file is not FCS or its HEADER or TEXT cannot be parsed.
    """
    name = str(path)
    with _opened(path) as stream:
        size = _size(stream)
        return [_info(text, size, name) for text in data_sets(stream, size, name)]
