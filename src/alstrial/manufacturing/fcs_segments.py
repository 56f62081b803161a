"""The HEADER and TEXT segments of an FCS data set, and the chain of data sets in a file.

An FCS file holds one or more data sets. Each starts with a 58-byte HEADER: ``FCSx.y``, four
spaces, then six right-justified ASCII offsets of 8 bytes (TEXT start and end, DATA start and
end, ANALYSIS start and end), each relative to the data set's first byte; DATA and ANALYSIS
offsets may be blank (or zero), and then only TEXT's ``$BEGINDATA``/``$ENDDATA`` say where the
data lie. TEXT is a run of keyword/value pairs separated by a delimiter, its first byte; a
delimiter inside a value is written twice. A supplemental TEXT (``$BEGINSTEXT``/``$ENDSTEXT``)
adds keywords. ``$NEXTDATA`` gives the offset of the next data set from this one's start (0 for
the last), as Beckman Coulter's LMD files use for their FCS 2.0 and 3.0 copies of one tube.

Files seen in the field bend the rules; this module reads them and says what it did:

- TEXT written with empty values (``|$P1S||$P2N|``, which FCS 3.1 forbids) is read as empty
  values when the escape reading leaves an odd number of words or a keyword holding the
  delimiter;
- a keyword written twice keeps its first value (a warning names it);
- bytes after the last delimiter (padding, a CR/LF) are ignored.

Keywords are returned lower-cased without their ``$`` (``$P1N`` as ``p1n``, BD's ``SPILL`` as
``spill``), values stripped of surrounding blanks, decoded as UTF-8 (FCS 3.1) or, failing that,
as Latin-1 (older instruments).

Reference: Spidlen et al. (2010), Data File Standard for Flow Cytometry, version FCS 3.1,
Cytometry A 77:97-100, sections 3.1-3.3.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from alstrial.exceptions import ValidationError

__all__ = [
    "HEADER_BYTES",
    "DataSetText",
    "FcsError",
    "Header",
    "data_sets",
    "fail",
    "int_keyword",
    "parse_header",
    "parse_text",
    "whole_number",
]

HEADER_BYTES = 58
#: Most data sets a file may chain with $NEXTDATA before the reader suspects a loop.
_MAX_DATA_SETS = 1000


class FcsError(ValidationError):
    """An FCS file that cannot be read, with the file and the problem named."""


def fail(name: str, problem: str) -> FcsError:
    """An :class:`FcsError` that starts with the file's name."""
    return FcsError(f"{Path(name).name}: {problem}", field="file", value=str(name))


@dataclass(frozen=True)
class Header:
    """A data set's HEADER: version and segment offsets (relative to the data set's start)."""

    version: str
    text: tuple[int, int]
    data: tuple[int, int] | None  # None when blank or 0, 0
    analysis: tuple[int, int] | None


def _offset(block: bytes, start: int, name: str, what: str) -> int | None:
    field = block[start : start + 8].strip()
    if not field:
        return None
    if not field.isdigit():
        raise fail(name, f"HEADER {what} offset {field.decode('latin-1')!r} is not a number")
    return int(field)


def parse_header(block: bytes, name: str, base: int = 0) -> Header:
    """Parse the 58-byte HEADER of the data set starting at byte ``base``.

    Raises
    ------
    FcsError
        A file too short for a HEADER, one that does not start with ``FCS``, or an offset
        that is not a number.
    """
    where = "" if base == 0 else f"the data set at byte {base}: "
    if len(block) < HEADER_BYTES:
        if base == 0:
            raise fail(name, f"{len(block)} bytes is too short for an FCS HEADER ({HEADER_BYTES})")
        raise fail(name, f"{where}the file ends inside its HEADER ($NEXTDATA points too far)")
    if not block.startswith(b"FCS"):
        raise fail(name, f"{where}does not start with 'FCS': not an FCS file")
    version = block[3:6].decode("latin-1")
    offsets = [
        _offset(block, start, name, what)
        for start, what in (
            (10, "TEXT start"),
            (18, "TEXT end"),
            (26, "DATA start"),
            (34, "DATA end"),
            (42, "ANALYSIS start"),
            (50, "ANALYSIS end"),
        )
    ]
    text_start, text_end = offsets[0], offsets[1]
    if text_start is None or text_end is None:
        raise fail(name, f"{where}the HEADER has no TEXT offsets")
    if text_end <= text_start:
        raise fail(name, f"{where}the HEADER's TEXT segment {text_start}-{text_end} is empty")

    def pair(first: int | None, last: int | None) -> tuple[int, int] | None:
        if first is None or last is None or (first == 0 and last == 0):
            return None
        return first, last

    return Header(
        version=version,
        text=(text_start, text_end),
        data=pair(offsets[2], offsets[3]),
        analysis=pair(offsets[4], offsets[5]),
    )


def _decode(value: bytes) -> str:
    try:
        return value.decode("utf-8").strip()
    except UnicodeDecodeError:
        return value.decode("latin-1").strip()


def _words(body: bytes, delimiter: bytes) -> list[bytes]:
    """Split TEXT on single delimiters; a doubled delimiter is a delimiter inside a word."""
    parts = body.split(delimiter)
    words: list[bytes] = []
    current = parts[0]
    i = 1
    while i < len(parts):
        if parts[i] == b"" and i + 1 < len(parts):
            current += delimiter + parts[i + 1]
            i += 2
        else:
            words.append(current)
            current = parts[i]
            i += 1
    words.append(current)
    return words


def parse_text(segment: bytes, name: str, what: str = "TEXT") -> tuple[dict[str, str], list[str]]:
    """Keywords of a TEXT segment (module docstring) and notes on what was bent.

    Raises
    ------
    FcsError
        A segment too short to hold a pair, or one that does not split into keyword/value
        pairs either way.
    """
    notes: list[str] = []
    if len(segment) < 3:
        raise fail(name, f"the {what} segment is {len(segment)} bytes: no keywords")
    delimiter = segment[:1]
    body = segment[1:]
    last = body.rfind(delimiter)
    if last >= 0 and not body[last + 1 :].strip(b"\x00 \r\n\t"):
        body = body[:last]
    words = _words(body, delimiter)
    if len(words) % 2 or any(delimiter in key for key in words[::2]):
        plain = body.split(delimiter)
        if len(plain) % 2 == 0 and all(key.strip() for key in plain[::2]):
            words = plain
            notes.append(
                f"{what} has empty values (doubled delimiters read as empty values, "
                "not as escaped delimiters)"
            )
        elif len(words) % 2:
            raise fail(
                name,
                f"the {what} segment does not split into keyword/value pairs "
                f"({len(words)} words with delimiter {delimiter!r})",
            )
    keywords: dict[str, str] = {}
    repeated: list[str] = []
    for key_bytes, value_bytes in zip(words[::2], words[1::2], strict=True):
        key = _decode(key_bytes).upper()
        if not key:
            raise fail(name, f"the {what} segment has an empty keyword")
        short = key[1:].lower() if key.startswith("$") else key.lower()
        if short in keywords:
            repeated.append(key)
            continue
        keywords[short] = _decode(value_bytes)
    if repeated:
        notes.append(f"{what} repeats {', '.join(sorted(set(repeated)))}; the first value kept")
    return keywords, notes


@dataclass(frozen=True)
class DataSetText:
    """One data set's HEADER and keywords (primary and supplemental TEXT merged)."""

    index: int  # 1-based, in file order
    base: int  # byte of the file where the data set starts
    header: Header
    keywords: dict[str, str]
    notes: tuple[str, ...]


def _read_at(stream: BinaryIO, start: int, length: int) -> bytes:
    stream.seek(start)
    return stream.read(length)


def whole_number(value: str) -> int | None:
    """The number a keyword's value writes in ASCII digits (``'00006081'``), else None (empty,
    a sign, a decimal point, or digits of another script, which ``int`` would also take)."""
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() else None


def int_keyword(keywords: dict[str, str], key: str) -> int | None:
    """A keyword's value as a whole number (:func:`whole_number`), None when absent."""
    return whole_number(keywords.get(key, ""))


def _read_data_set(stream: BinaryIO, size: int, base: int, index: int, name: str) -> DataSetText:
    header = parse_header(_read_at(stream, base, HEADER_BYTES), name, base)
    start, end = header.text
    if base + end >= size:
        raise fail(
            name,
            f"the TEXT segment ends at byte {base + end}, past the end of the file "
            f"({size} bytes): the file is truncated",
        )
    keywords, notes = parse_text(_read_at(stream, base + start, end - start + 1), name)
    s_start, s_end = int_keyword(keywords, "beginstext"), int_keyword(keywords, "endstext")
    if s_start and s_end and s_end > s_start and (s_start, s_end) != (start, end):
        if base + s_end >= size:
            notes.append("the supplemental TEXT lies past the end of the file; ignored")
        else:
            try:
                extra, extra_notes = parse_text(
                    _read_at(stream, base + s_start, s_end - s_start + 1),
                    name,
                    "supplemental TEXT",
                )
            except FcsError as error:
                notes.append(f"{error.message.split(': ', 1)[-1]}; supplemental TEXT ignored")
            else:
                notes += extra_notes
                for key, value in extra.items():
                    keywords.setdefault(key, value)
    return DataSetText(index, base, header, keywords, tuple(notes))


def data_sets(stream: BinaryIO, size: int, name: str) -> Iterator[DataSetText]:
    """Every data set of the file, following ``$NEXTDATA`` (module docstring).

    Raises
    ------
    FcsError
        For a malformed HEADER or TEXT in any data set, or a ``$NEXTDATA`` chain that loops.
    """
    base, index = 0, 1
    seen: set[int] = set()
    while True:
        seen.add(base)
        data_set = _read_data_set(stream, size, base, index, name)
        step = int_keyword(data_set.keywords, "nextdata") or 0
        if step and base + step in seen:
            raise fail(name, f"$NEXTDATA of data set {index} points back to byte {base + step}")
        if step and base + step < size:
            if index >= _MAX_DATA_SETS:
                raise fail(name, f"more than {_MAX_DATA_SETS} data sets chained by $NEXTDATA")
            yield data_set
            base, index = base + step, index + 1
            continue
        if step and base + step >= size:
            data_set = DataSetText(
                data_set.index,
                data_set.base,
                data_set.header,
                data_set.keywords,
                (*data_set.notes, f"$NEXTDATA {step} points past the end of the file; ignored"),
            )
        yield data_set
        return
