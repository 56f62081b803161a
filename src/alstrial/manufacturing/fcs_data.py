"""The DATA segment of an FCS data set: its layout from the keywords, decoded into numpy.

Layouts (``$DATATYPE``, ``$PnB``, ``$BYTEORD``):

- ``F``/``D``: 32/64-bit IEEE floats;
- ``I`` with byte-aligned widths: each value an unsigned integer of ``$PnB`` bits (8 to 64,
  24 and 40 included, widths may differ between channels), masked to the channel's range:
  FCS 3.1 section 3.3.36 says the bits above ``ceil(log2($PnR))`` are unused and must be
  ignored (``$PnR`` is rounded up to a power of 2);
- ``I`` with a width that is not a multiple of 8 (Beckman Coulter's CXP writes ``$PnB`` 10):
  either each value in whole bytes (10 bits in 16) or the values packed bit to bit, as FCS 2.0
  allowed; the layout whose size matches the DATA segment is the one read, and the sample says
  which;
- ``A``: ASCII, each value ``$PnB`` characters, or, with ``$PnB`` ``*``, values separated by
  blanks or commas.

``$BYTEORD`` 1,2,3,4 is little-endian and 4,3,2,1 big-endian; any other permutation of a
value's bytes (3,4,1,2) is honoured for values as wide as the order.

Decoding reads the segment from the stream in blocks (about 1 MiB of decoded values) straight
into a reused buffer, writes each block into the float64 event matrix and converts it there
while it is in cache, so the peak memory is the matrix and one block (the rarer packed-bit
and delimited-ASCII layouts read the segment whole).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from alstrial.manufacturing.fcs_segments import fail, whole_number

__all__ = ["Layout", "candidate_layouts", "channel_range", "decode", "integer_masks"]

#: Decoded rows per block: about 1 MiB of float64, so that a block stays in cache while it is
#: converted to the linear scale.
_BLOCK_OUT_BYTES = 1024 * 1024
_LITTLE = ("1", "1,2", "1,2,3", "1,2,3,4", "1,2,3,4,5,6,7,8")
_BIG = ("1", "2,1", "3,2,1", "4,3,2,1", "8,7,6,5,4,3,2,1")


@dataclass(frozen=True)
class Layout:
    """How the values of one data set lie in its DATA segment."""

    datatype: str  # I, F, D or A
    kind: str  # native, bytes, packed, ascii, delimited
    widths: tuple[int, ...]  # bytes per value (native, bytes), bits (packed), chars (ascii)
    big_endian: bool
    permutation: tuple[int, ...] | None  # stored byte j holds significance permutation[j]
    masks: tuple[int, ...] | None  # integer masks per channel
    note: str = ""

    def describe(self) -> str:
        """The layout in words, as ``alstrial flow inspect`` prints it."""
        if self.datatype == "F":
            kind = "32-bit float"
        elif self.datatype == "D":
            kind = "64-bit float"
        elif self.kind == "delimited":
            kind = "ASCII, delimited"
        elif self.kind == "ascii":
            kind = f"ASCII, {_widths_text(self.widths)} characters"
        elif self.kind == "packed":
            kind = f"integer, {_widths_text(self.widths)} bits packed"
        else:
            kind = f"integer, {_widths_text(tuple(8 * w for w in self.widths))} bits"
        if self.datatype != "A":
            kind += ", big-endian" if self.big_endian else ", little-endian"
        return kind

    def row_bits(self) -> int:
        """Bits of one event (0 for delimited ASCII, whose events have no fixed size)."""
        if self.kind == "delimited":
            return 0
        if self.kind == "packed":
            return sum(self.widths)
        return 8 * sum(self.widths)

    def segment_bytes(self, events: int) -> int | None:
        """Bytes of DATA that ``events`` events take (None for delimited ASCII)."""
        bits = self.row_bits()
        return None if bits == 0 else (events * bits + 7) // 8


def _widths_text(widths: tuple[int, ...]) -> str:
    distinct = sorted(set(widths))
    return str(distinct[0]) if len(distinct) == 1 else "/".join(str(w) for w in distinct)


def _channel(keywords: dict[str, str], i: int) -> str:
    name = keywords.get(f"p{i}n", "")
    return f"channel {i} ({name})" if name else f"channel {i}"


def _byte_order(keywords: dict[str, str], name: str) -> tuple[bool, tuple[int, ...] | None]:
    order = keywords.get("byteord", "").replace(" ", "")
    if order in _LITTLE:
        return False, None
    if order in _BIG:
        return True, None
    try:
        significance = tuple(int(part) - 1 for part in order.split(","))
    except ValueError:
        significance = ()
    if sorted(significance) != list(range(len(significance))) or not significance:
        raise fail(name, f"$BYTEORD {order!r} is not a byte order (1,2,3,4 or 4,3,2,1 expected)")
    return False, significance


def integer_masks(keywords: dict[str, str], bits: list[int], name: str) -> tuple[int, ...]:
    """Each channel's mask: the lowest ceil(log2($PnR)) bits, at most the value's width.

    Raises
    ------
    FcsError
        A missing or non-numeric ``$PnR``, naming the keyword and the channel.
    """
    masks = []
    for i, width in enumerate(bits, start=1):
        top = channel_range(keywords, i, name)
        used = width if top <= 1 else min(width, int(np.ceil(np.log2(top))))
        masks.append((1 << used) - 1)
    return tuple(masks)


def channel_range(keywords: dict[str, str], i: int, name: str) -> float:
    """``$PnR`` of channel ``i`` as a number.

    Raises
    ------
    FcsError
        When the keyword is missing, not a number or not positive, naming it and the channel.
    """
    text = keywords.get(f"p{i}r")
    if text is None or not text.strip():
        raise fail(
            name, f"$P{i}R (the range of {_channel(keywords, i)}) is missing; FCS requires it"
        )
    try:
        value = float(text)
    except ValueError:
        raise fail(name, f"$P{i}R of {_channel(keywords, i)} is {text!r}, not a number") from None
    if not np.isfinite(value) or value <= 0:
        raise fail(name, f"$P{i}R of {_channel(keywords, i)} is {text!r}; a range must be > 0")
    return value


def candidate_layouts(keywords: dict[str, str], count: int, name: str) -> list[Layout]:
    """The layouts the keywords allow (two for integer widths not a multiple of 8).

    Raises
    ------
    FcsError
        An unsupported ``$DATATYPE``, ``$MODE`` or ``$BYTEORD``, or a ``$PnB`` that does not
        fit the data type, naming the keyword and the channel.
    """
    datatype = keywords.get("datatype", "").strip().upper()
    mode = keywords.get("mode", "L").strip().upper() or "L"
    if mode != "L":
        raise fail(name, f"$MODE {mode} is not list mode; only L (list mode) data can be read")
    if datatype not in ("I", "F", "D", "A"):
        raise fail(name, f"$DATATYPE {datatype!r} is not one of I, F, D or A")
    raw_bits = [keywords.get(f"p{i}b", "").strip() for i in range(1, count + 1)]
    for i, value in enumerate(raw_bits, start=1):
        if not value:
            raise fail(name, f"$P{i}B (the width of {_channel(keywords, i)}) is missing")
    if datatype == "A":
        return [_ascii_layout(keywords, raw_bits, name)]
    big, permutation = _byte_order(keywords, name)
    if datatype in ("F", "D"):
        width = 4 if datatype == "F" else 8
        note = ""
        odd = [i for i, b in enumerate(raw_bits, start=1) if b != str(8 * width)]
        if odd:
            note = (
                f"$P{odd[0]}B is {raw_bits[odd[0] - 1]} but $DATATYPE {datatype} stores "
                f"{8 * width}-bit floats; read as {8 * width}-bit"
            )
        if permutation is not None and len(permutation) != width:
            raise fail(name, f"$BYTEORD has {len(permutation)} bytes for {width}-byte values")
        return [Layout(datatype, "native", (width,) * count, big, permutation, None, note)]
    bits: list[int] = []
    for i, value in enumerate(raw_bits, start=1):
        given = whole_number(value)
        if given is None or not 1 <= given <= 64:
            raise fail(
                name,
                f"$P{i}B of {_channel(keywords, i)} is {value!r}; integer data needs a width "
                "of 1 to 64 bits ('*' is for ASCII data only)",
            )
        bits.append(given)
    masks = integer_masks(keywords, bits, name)
    if permutation is not None and any(b != 8 * len(permutation) for b in bits):
        raise fail(
            name,
            f"$BYTEORD {keywords.get('byteord')} orders {len(permutation)} bytes but the "
            "values are of another width",
        )
    if all(b % 8 == 0 for b in bits):
        widths = tuple(b // 8 for b in bits)
        kind = "native" if len(set(widths)) == 1 and widths[0] in (1, 2, 4, 8) else "bytes"
        return [Layout("I", kind, widths, big, permutation, masks)]
    stated = ", ".join(sorted({f"{b}" for b in bits if b % 8}))
    whole = tuple((b + 7) // 8 for b in bits)
    return [
        Layout(
            "I",
            "bytes",
            whole,
            big,
            None,
            masks,
            f"$PnB {stated} is not a whole number of bytes; each value read from "
            f"{_widths_text(tuple(8 * w for w in whole))} bits (as Beckman Coulter's CXP "
            "writes them), which the DATA segment's size confirms",
        ),
        Layout(
            "I",
            "packed",
            tuple(bits),
            big,
            None,
            masks,
            f"$PnB {stated}: values packed bit to bit (FCS 2.0), which the DATA segment's "
            "size confirms",
        ),
    ]


def _ascii_layout(keywords: dict[str, str], raw_bits: list[str], name: str) -> Layout:
    if all(b == "*" for b in raw_bits):
        return Layout("A", "delimited", (), False, None, None)
    widths = []
    for i, value in enumerate(raw_bits, start=1):
        width = whole_number(value)
        if width is None or width < 1:
            raise fail(
                name,
                f"$P{i}B of {_channel(keywords, i)} is {value!r}; ASCII data needs every "
                "$PnB a number of characters, or every $PnB '*' (delimited values)",
            )
        widths.append(width)
    return Layout("A", "ascii", tuple(widths), False, None, None)


def decode(
    stream: BinaryIO,
    start: int,
    events: int,
    count: int,
    layout: Layout,
    name: str,
    out: npt.NDArray[np.float64],
    transform: Callable[[npt.NDArray[np.float64]], None] | None = None,
) -> None:
    """Decode ``events`` x ``count`` values from byte ``start`` of ``stream`` into ``out``;
    ``transform`` (the conversion to the linear scale) is applied to each decoded block.

    Raises
    ------
    FcsError
        A segment shorter than the layout needs, or ASCII text that is not a number.
    """
    stream.seek(start)
    if layout.kind == "delimited":
        _decode_delimited(stream, events, count, name, out)
    elif layout.kind == "packed":
        _decode_packed(stream, events, layout, name, out)
    else:
        _decode_blocks(stream, events, count, layout, name, out, transform)
        return
    if transform is not None:
        transform(out)


def _read_exactly(stream: BinaryIO, view: memoryview, name: str) -> None:
    filled = 0
    while filled < len(view):
        got = stream.readinto(view[filled:])  # type: ignore[attr-defined]
        if not got:
            raise fail(name, "the DATA segment ends before its last event: the file is truncated")
        filled += got


def _decode_blocks(
    stream: BinaryIO,
    events: int,
    count: int,
    layout: Layout,
    name: str,
    out: npt.NDArray[np.float64],
    transform: Callable[[npt.NDArray[np.float64]], None] | None,
) -> None:
    row_bytes = sum(layout.widths)
    rows = max(1, _BLOCK_OUT_BYTES // (8 * count))
    native = layout.kind == "native" and layout.permutation is None and layout.datatype != "A"
    if native:
        dtype = _value_dtype(layout, layout.widths[0])
        buffer = np.empty(min(rows, events) * count, dtype=dtype)
    else:
        buffer = np.empty(min(rows, events) * row_bytes, dtype=np.uint8)
    masks = _native_masks(layout, count) if native else None
    odd = _odd_width_reader(layout, count, min(rows, events))
    for first in range(0, events, rows):
        n = min(rows, events - first)
        if odd is not None:
            odd(stream, n, name, out[first : first + n])
        elif native:
            chunk = buffer[: n * count]
            _read_exactly(stream, chunk.data.cast("B"), name)
            block = chunk.reshape(n, count)
            if masks is not None:
                np.bitwise_and(block, masks, out=block)
            out[first : first + n] = block
        else:
            raw = buffer[: n * row_bytes]
            _read_exactly(stream, raw.data, name)
            _decode_rows(raw.reshape(n, row_bytes), layout, name, out[first : first + n])
        if transform is not None:
            transform(out[first : first + n])


def _odd_width_reader(
    layout: Layout, count: int, rows: int
) -> Callable[[BinaryIO, int, str, npt.NDArray[np.float64]], None] | None:
    """For integers all 3, 5, 6 or 7 bytes wide (24-bit Cytek files): a reader that views each
    value through an unaligned 4- or 8-byte window with a stride of its width and masks off
    the neighbour's bytes, with no copy of the block (10x faster than padding each value)."""
    width = layout.widths[0]
    if (
        layout.datatype != "I"
        or layout.kind != "bytes"
        or layout.permutation is not None
        or width not in (3, 5, 6, 7)
        or any(w != width for w in layout.widths)
    ):
        return None
    window = 4 if width < 4 else 8
    row_bytes = width * count
    buffer = np.zeros(rows * row_bytes + 2 * window, dtype=np.uint8)
    dtype = _value_dtype(layout, window)
    limit = (1 << (8 * width)) - 1
    masks = np.array([m & limit for m in layout.masks or [limit] * count], dtype=dtype)
    # The values start at byte ``window`` of the buffer. Big-endian, the window of the first
    # value ends on its last byte: it starts at window + width - window = width. Little-endian
    # it starts on the value's first byte.
    offset = width if layout.big_endian else window

    def read(stream: BinaryIO, n: int, name: str, out: npt.NDArray[np.float64]) -> None:
        _read_exactly(stream, buffer[window : window + n * row_bytes].data, name)
        values = np.ndarray(
            shape=(n, count),
            dtype=dtype,
            buffer=buffer.data,
            offset=offset,
            strides=(row_bytes, width),
        )
        np.bitwise_and(values, masks, out=out, casting="unsafe")

    return read


def _value_dtype(
    layout: Layout, width: int, big_endian: bool | None = None
) -> np.dtype[np.generic]:
    """numpy dtype of one stored value: float for F/D, unsigned integer for I, ``width``
    bytes, in the layout's byte order unless ``big_endian`` says otherwise."""
    big = layout.big_endian if big_endian is None else big_endian
    code = "f" if layout.datatype in ("F", "D") else "u"
    return np.dtype(f"{'>' if big else '<'}{code}{width}")


def _native_masks(layout: Layout, count: int) -> npt.NDArray[np.unsignedinteger] | None:
    if layout.masks is None:
        return None
    width = layout.widths[0]
    full = (1 << (8 * width)) - 1
    if all(mask == full for mask in layout.masks):
        return None
    return np.array(layout.masks, dtype=_value_dtype(layout, width)).reshape(1, count)


def _decode_rows(
    rows: npt.NDArray[np.uint8], layout: Layout, name: str, out: npt.NDArray[np.float64]
) -> None:
    """Values of whole-byte fields of any width, column by column (one copy per column)."""
    offset = 0
    for column, width in enumerate(layout.widths):
        field = rows[:, offset : offset + width]
        offset += width
        if layout.datatype == "A":
            out[:, column] = _ascii_numbers(field, name, column)
            continue
        if layout.permutation is not None:
            little = np.empty_like(field)
            little[:, list(layout.permutation)] = field
            field, big = little, False
        else:
            big = layout.big_endian
        padded_width = 1 << (width - 1).bit_length()
        if padded_width != width:
            padded = np.zeros((field.shape[0], padded_width), dtype=np.uint8)
            if big:
                padded[:, padded_width - width :] = field
            else:
                padded[:, :width] = field
            field = padded
        dtype = _value_dtype(layout, padded_width, big)
        values = np.ascontiguousarray(field).view(dtype)[:, 0]
        if layout.masks is not None:
            values = values & np.array(layout.masks[column], dtype=dtype)
        out[:, column] = values


def _ascii_numbers(field: npt.NDArray[np.uint8], name: str, column: int) -> npt.NDArray[np.float64]:
    text = np.ascontiguousarray(field).view(f"S{field.shape[1]}")[:, 0]
    try:
        return np.char.strip(text).astype(np.float64)
    except ValueError:
        bad = next(v for v in text if not _is_number(v))
        raise fail(
            name, f"ASCII value {bad.decode('latin-1')!r} of channel {column + 1} is not a number"
        ) from None


def _is_number(value: bytes) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


_SEPARATORS = re.compile(rb"[\s,]+")


def _decode_delimited(
    stream: BinaryIO, events: int, count: int, name: str, out: npt.NDArray[np.float64]
) -> None:
    words = [w for w in _SEPARATORS.split(stream.read()) if w]
    if len(words) < events * count:
        raise fail(
            name,
            f"the ASCII DATA segment holds {len(words)} values; $TOT x $PAR needs {events * count}",
        )
    try:
        values = np.array(words[: events * count], dtype=np.float64)
    except ValueError:
        bad = next(w for w in words if not _is_number(w))
        raise fail(name, f"ASCII value {bad.decode('latin-1')!r} is not a number") from None
    out[:] = values.reshape(events, count)


def _decode_packed(
    stream: BinaryIO, events: int, layout: Layout, name: str, out: npt.NDArray[np.float64]
) -> None:
    """Bit-packed integers, most significant bit first (reads the segment whole)."""
    row_bits = sum(layout.widths)
    need = (events * row_bits + 7) // 8
    raw = np.frombuffer(stream.read(need), dtype=np.uint8)
    if raw.size < need:
        raise fail(name, "the DATA segment ends before its last event: the file is truncated")
    bits = np.unpackbits(raw)[: events * row_bits].reshape(events, row_bits)
    offset = 0
    for column, width in enumerate(layout.widths):
        weights = (np.uint64(1) << np.arange(width - 1, -1, -1, dtype=np.uint64)).astype(np.uint64)
        values = bits[:, offset : offset + width].astype(np.uint64) @ weights
        offset += width
        if layout.masks is not None:
            values &= np.uint64(layout.masks[column])
        out[:, column] = values
