"""Append-only journal of accepted commands: msgpack records with sequence numbers and CRC32.

File layout: the 4-byte magic b"TBJ\\x02", then records. A record is a 16-byte header, the
marker b"\\xa5TBR" and three little-endian uint32 (body length, CRC32 of the body, CRC32 of the
header's first 12 bytes), then the body: msgpack of [sequence number, payload], the payload a
map or the raw bytes of a command batch. Sequence numbers start at 1 and rise by 1. The writer
appends records in batches, each batch one write; `durability` says what follows the write
(docs/exchange.md: "fsync" one fsync per batch, the default; "flush" to the OS only; "buffer"
kept in a 1 MiB buffer). A crash can leave a torn tail: the last records cut short or garbled.
The reader yields every whole record; at the first bad one it looks for a whole record after
it: none means a torn tail (reported with its byte offset, cut by the writer), one means
corruption in the middle, which it refuses (JournalError naming the offset), as it refuses a
gap in sequence numbers.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgpack

MAGIC = b"TBJ\x02"
MARKER = b"\xa5TBR"
HEADER = struct.Struct("<4sIII")  # marker, body length, body CRC32, CRC32 of the 12 bytes before
BUFFER = 1 << 20  # bytes kept in memory under durability "buffer"

Payload = dict[str, Any] | bytes
Durability = Literal["fsync", "flush", "buffer"]
DURABILITY: tuple[Durability, ...] = ("fsync", "flush", "buffer")


class JournalError(ValueError):
    """A journal that cannot be read as written: corruption, a sequence gap, a wrong file."""


class TornTail(JournalError):
    """The journal ends in a partial or bad-CRC record starting at byte `offset`."""

    def __init__(self, path: Path, offset: int, why: str) -> None:
        """Record where the torn tail starts and why it is torn."""
        super().__init__(f"{path}: torn tail at byte {offset}: {why}")
        self.offset, self.why = offset, why


@dataclass(frozen=True)
class Record:
    """One journal record: sequence number, payload, and its byte offset in the file."""

    seq: int
    payload: Payload
    offset: int


def encode(seq: int, payload: Payload) -> bytes:
    """Return the bytes of one record (header and body)."""
    if isinstance(payload, bytearray | memoryview):
        payload = bytes(payload)
    if not isinstance(payload, dict | bytes):
        raise TypeError(f"payload must be a dict or bytes, got {type(payload).__name__}")
    body = msgpack.packb([seq, payload], use_bin_type=True)
    head = MARKER + struct.pack("<II", len(body), zlib.crc32(body))
    return head + struct.pack("<I", zlib.crc32(head)) + body


def _problem(data: bytes, offset: int) -> str | None:
    """Return why the record at offset is not whole (None: it is)."""
    left = len(data) - offset
    if left < HEADER.size:
        return f"{left} bytes, less than a record header"
    marker, length, crc, head_crc = HEADER.unpack_from(data, offset)
    if marker != MARKER or head_crc != zlib.crc32(data[offset : offset + 12]):
        return "bad record header"
    if length > left - HEADER.size:
        return f"record of {length} bytes cut at {left - HEADER.size}"
    start = offset + HEADER.size
    if crc != zlib.crc32(data[start : start + length]):
        return "CRC32 mismatch in the record body"
    return None


class JournalReader:
    """Iterate over a journal's records; afterwards `torn` holds the torn tail, if any."""

    def __init__(self, path: str | Path) -> None:
        """Read the journal at path (iterate to get its records)."""
        self.path = Path(path)
        self.torn: TornTail | None = None
        self.end = 0  # byte offset just after the last whole record
        self.last_seq = 0

    def __iter__(self) -> Iterator[Record]:
        """Yield the whole records in order; set `torn` when the file ends in a torn record."""
        data = self.path.read_bytes()
        if len(data) < len(MAGIC):
            self._tear(0, "file shorter than the journal magic")
            return
        if data[:3] == MAGIC[:3] and data[3:4] != MAGIC[3:]:
            raise JournalError(
                f"{self.path}: journal format {data[3]}, this version reads format {MAGIC[3]}"
            )
        if data[: len(MAGIC)] != MAGIC:
            raise JournalError(f"{self.path}: not a journal (magic {data[:4]!r}, want {MAGIC!r})")
        offset = self.end = len(MAGIC)
        while offset < len(data):
            why = _problem(data, offset)
            if why is not None:
                later = self._next_whole(data, offset + 1)
                if later is None:
                    self._tear(offset, why)
                    return
                raise JournalError(
                    f"{self.path}: corrupt record at byte {offset} ({why}) followed by a whole "
                    f"record at byte {later}: the journal is damaged before its end"
                )
            length = HEADER.unpack_from(data, offset)[1]
            start, stop = offset + HEADER.size, offset + HEADER.size + length
            seq, payload = self._decode(data[start:stop], offset)
            yield Record(seq, payload, offset)
            self.last_seq, offset = seq, stop
            self.end = offset

    def records(self, allow_torn_tail: bool = False) -> list[Record]:
        """Return all whole records; raise TornTail on a torn tail unless it is allowed."""
        records = list(self)
        if self.torn is not None and not allow_torn_tail:
            raise self.torn
        return records

    @staticmethod
    def _next_whole(data: bytes, offset: int) -> int | None:
        """Return the offset of the first whole record at or after offset (None: none)."""
        at = data.find(MARKER, offset)
        while at >= 0:
            if _problem(data, at) is None:
                return at
            at = data.find(MARKER, at + 1)
        return None

    def _tear(self, offset: int, why: str) -> None:
        self.torn = TornTail(self.path, offset, why)

    def _decode(self, body: bytes, offset: int) -> tuple[int, Payload]:
        try:
            seq, payload = msgpack.unpackb(body, raw=False, strict_map_key=False)
        except (ValueError, msgpack.UnpackException) as error:
            raise JournalError(f"{self.path}: undecodable record at byte {offset}") from error
        if seq != self.last_seq + 1:
            raise JournalError(
                f"{self.path}: sequence gap at byte {offset}: got {seq}, "
                f"expected {self.last_seq + 1}"
            )
        return seq, payload


class JournalWriter:
    """Append records to a journal in batches: one write per batch, then what `durability` says.

    durability: "fsync" (one fsync per batch: a flushed batch survives a power loss), "flush"
    (to the operating system: survives a crash of the process, not of the machine), "buffer"
    (1 MiB kept in the process: a crash of the process loses what is buffered).
    """

    def __init__(
        self,
        path: str | Path,
        durability: Durability = "fsync",
        truncate_torn_tail: bool = False,
    ) -> None:
        """Open or create a journal; an existing one continues its sequence numbers.

        A torn tail raises TornTail unless truncate_torn_tail, which cuts the file there (the
        cut is in `torn`). ValueError for an unknown durability.
        """
        if durability not in DURABILITY:
            raise ValueError(f"durability {durability!r} is not one of {', '.join(DURABILITY)}")
        self.path, self.durability = Path(path), durability
        self.torn: TornTail | None = None
        self._pending: list[bytes] = []
        if self.path.exists() and self.path.stat().st_size:
            reader = JournalReader(self.path)
            reader.records(allow_torn_tail=truncate_torn_tail)
            if reader.torn is not None:
                os.truncate(self.path, reader.torn.offset)
                self.torn = reader.torn
            self.next_seq = reader.last_seq + 1
        else:
            self.next_seq = 1
        self._file = self.path.open("ab", buffering=BUFFER if durability == "buffer" else -1)
        if not self._file.tell():
            self._file.write(MAGIC)
            self._sync()

    def append(self, payload: Payload) -> int:
        """Queue one record for the next flush; return its sequence number."""
        seq = self.next_seq
        self._pending.append(encode(seq, payload))
        self.next_seq += 1
        return seq

    def flush(self) -> None:
        """Write the queued records as one batch and make them durable (fsync if enabled)."""
        if self._pending:
            self._file.write(b"".join(self._pending))
            self._pending.clear()
            self._sync()

    def write_batch(self, payloads: Iterable[Payload]) -> int:
        """Append a batch of records, flush it, and return the last sequence number written."""
        for payload in payloads:
            self.append(payload)
        self.flush()
        return self.next_seq - 1

    def close(self) -> None:
        """Flush and close the file (whatever the durability, everything is written)."""
        self.flush()
        self._file.close()

    def __enter__(self) -> JournalWriter:
        """Return the writer."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Flush and close."""
        self.close()

    def _sync(self) -> None:
        if self.durability != "buffer":
            self._file.flush()
        if self.durability == "fsync":
            os.fsync(self._file.fileno())
