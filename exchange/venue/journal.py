"""Append-only journal of accepted commands: msgpack records with sequence numbers and CRC32.

File layout: the 4-byte magic b"TBJ\\x01", then records. A record is an 8-byte header, two
little-endian uint32 (body length, CRC32 of the body), then the body: msgpack of
[sequence number, payload], the payload a map or the raw bytes of a command batch. Sequence
numbers start at 1 and rise by 1. The writer appends records in batches, each batch one write
and (by default) one fsync. A crash can leave a torn tail: the last record cut short, or with a
CRC that does not match, ending at the end of the file. The reader yields every whole record and
reports the torn tail's byte offset; it refuses a gap in sequence numbers or a bad record
followed by more data (corruption, not a torn tail).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

MAGIC = b"TBJ\x01"
HEADER = struct.Struct("<II")

Payload = dict[str, Any] | bytes


class JournalError(Exception):
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
    return HEADER.pack(len(body), zlib.crc32(body)) + body


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
        if data[: len(MAGIC)] != MAGIC:
            raise JournalError(f"{self.path}: not a journal (magic {data[:4]!r}, want {MAGIC!r})")
        offset = self.end = len(MAGIC)
        while offset < len(data):
            if len(data) - offset < HEADER.size:
                self._tear(offset, f"{len(data) - offset} bytes, less than a record header")
                return
            length, crc = HEADER.unpack_from(data, offset)
            start, stop = offset + HEADER.size, offset + HEADER.size + length
            if stop > len(data):
                self._tear(offset, f"record of {length} bytes cut at {len(data) - start}")
                return
            body = data[start:stop]
            if zlib.crc32(body) != crc:
                if stop == len(data):
                    self._tear(offset, "CRC32 mismatch in the last record")
                    return
                raise JournalError(f"{self.path}: CRC32 mismatch at byte {offset} before the end")
            seq, payload = self._decode(body, offset)
            yield Record(seq, payload, offset)
            self.last_seq, offset = seq, stop
            self.end = offset

    def records(self, allow_torn_tail: bool = False) -> list[Record]:
        """Return all whole records; raise TornTail on a torn tail unless it is allowed."""
        records = list(self)
        if self.torn is not None and not allow_torn_tail:
            raise self.torn
        return records

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
    """Append records to a journal in batches: one write and, if `fsync`, one fsync per batch."""

    def __init__(
        self, path: str | Path, fsync: bool = True, truncate_torn_tail: bool = False
    ) -> None:
        """Open or create a journal; an existing one continues its sequence numbers.

        A torn tail raises TornTail unless truncate_torn_tail, which cuts the file there.
        """
        self.path, self.fsync = Path(path), fsync
        self._pending: list[bytes] = []
        if self.path.exists() and self.path.stat().st_size:
            reader = JournalReader(self.path)
            reader.records(allow_torn_tail=truncate_torn_tail)
            if reader.torn is not None:
                os.truncate(self.path, reader.torn.offset)
            self.next_seq = reader.last_seq + 1
        else:
            self.next_seq = 1
        self._file = self.path.open("ab")
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
        """Flush and close the file."""
        self.flush()
        self._file.close()

    def __enter__(self) -> JournalWriter:
        """Return the writer."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Flush and close."""
        self.close()

    def _sync(self) -> None:
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())
