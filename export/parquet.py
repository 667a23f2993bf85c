"""Typed Parquet: the archive's text forms made into the types analysts' tools read as such.

Times (ISO 8601 strings with their offset in the archive) become UTC instants; each column's
time zone is the forum's offset when the file holds one forum (or several with the same offset),
so pandas, Polars and R's arrow show local time as they read it, and UTC otherwise; the file's
metadata keeps each site's offset (``utc_offsets``). JSON lists become lists of strings, the
credits a map, 0/1 flags booleans, ids int64. Each field carries its description from
metadata.yml. Rows come in batches and go out as one row group per batch: memory stays flat.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from export.tables import FILES, FLAG, LIST, MADE, MAP, TIME, Export

METADATA = Path(__file__).resolve().parent.parent / "metadata.yml"
STORED = {int: pa.int64(), float: pa.float64(), str: pa.string(), bytes: pa.binary()}
# A post's images and attachments (export.tables.FILES_SQL), and what each field says.
FILE_FIELDS = {
    "images": [("url", pa.string()), ("sha256", pa.string()), ("status", pa.string())],
    "attachments": [("url", pa.string()), ("aid", pa.int64()), ("filename", pa.string()), ("size", pa.int64()),
                    ("is_image", pa.bool_())],
}
FILE_DESCRIPTIONS = {
    "images": "图片 The post's images in its order: url; sha256 and status where the media store "
              "(-a media=images|all) answered for it (post_images).",
    "attachments": "附件 The post's attachments in its order: url as the page linked it; aid, filename, "
                   "size (bytes) and is_image from its row in attachments.",
}


@cache
def _described() -> dict:
    return yaml.safe_load(METADATA.read_text(encoding="utf-8"))["databases"]["archive"]["tables"]


def descriptions(table: Export) -> tuple[str, dict[str, str]]:
    """The export's description and each column's, from metadata.yml (the archive's own words)."""
    tables = _described()
    own = tables.get(table.described_as or table.table, {})
    columns = {name: text for name, (_, text) in MADE.items()}
    columns |= tables["articles"]["columns"]  # fid and forum_name, where a row gets its thread's
    columns |= own.get("columns", {})
    columns |= {name: text for name, text in FILE_DESCRIPTIONS.items() if table.kind(name) == FILES}
    return table.description or own.get("description", ""), columns


def time_zone(offsets: dict[str, str]) -> str:
    """The times' zone: the forums' offset when they share one, else UTC."""
    return next(iter(set(offsets.values()))) if len(set(offsets.values())) == 1 else "UTC"


def arrow_type(kind: type | str, zone: str = "UTC", column: str = "") -> pa.DataType:
    if kind == FILES:
        return pa.list_(pa.struct(FILE_FIELDS[column]))
    if kind == TIME:
        return pa.timestamp("ms", tz=zone)
    if kind == LIST:
        return pa.list_(pa.string())
    if kind == FLAG:
        return pa.bool_()
    if kind == MAP:
        return pa.map_(pa.string(), pa.int64())
    return STORED[kind]


def schema(table: Export, columns: list[str], offsets: dict[str, str]) -> pa.Schema:
    """The file's schema: typed fields, each with its description; the table's description and
    the sites' offsets in the file's metadata."""
    description, described = descriptions(table)
    zone = time_zone(offsets)
    fields = [
        pa.field(name, arrow_type(table.kind(name), zone, name), metadata={"description": described.get(name, "")})
        for name in columns
    ]
    metadata = {"table": table.name, "description": description, "utc_offsets": json.dumps(offsets)}
    return pa.schema(fields, metadata=metadata)


def write_parquet(
    out: IO[bytes] | str, table: Export, columns: list[str], batches: Iterator[list[tuple]], offsets: dict[str, str]
) -> int:
    target = schema(table, columns, offsets)
    count = 0
    with pq.ParquetWriter(out, target) as writer:  # an empty export is still a valid file
        for batch in batches:
            arrays = [typed(values, field.type) for values, field in zip(zip(*batch), target)]
            writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=target))
            count += len(batch)
    return count


def typed(values: tuple, kind: pa.DataType) -> pa.Array:
    """One column of a batch, from the archive's stored form to ``kind``."""
    if pa.types.is_timestamp(kind):
        try:
            return pa.array(values, pa.string()).cast(pa.timestamp(kind.unit, tz="UTC")).cast(kind)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):  # one odd value: each alone
            return pa.array([_instant(value, kind.tz) for value in values], kind)
    if pa.types.is_list(kind) or pa.types.is_map(kind):
        parsed = [_json(value, list if pa.types.is_list(kind) else dict) for value in values]
        if pa.types.is_map(kind):
            parsed = [None if value is None else list(value.items()) for value in parsed]
        if pa.types.is_list(kind) and pa.types.is_struct(kind.value_type):  # a file's 0/1 flag: a boolean
            flags = [field.name for field in kind.value_type if pa.types.is_boolean(field.type)]
            for files in filter(None, parsed):
                for item in files:
                    item.update({flag: bool(item[flag]) for flag in flags if item.get(flag) is not None})
        return pa.array(parsed, kind)
    if pa.types.is_boolean(kind):
        return pa.array([None if value is None else bool(value) for value in values], kind)
    try:
        return pa.array(values, kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # another program's text in a number column: each alone
        return pa.array([_scalar(value, kind) for value in values], kind)


def _scalar(value, kind: pa.DataType):
    """One value as ``kind``; what is not one is left empty, and said on stderr."""
    if pa.types.is_string(kind):  # a number in a text column: its text loses nothing
        return str(value)
    try:
        return pa.scalar(value, kind).as_py()
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        print(f"not {kind}, left empty in the Parquet file: {value!r}", file=sys.stderr)
        return None


def _instant(value: str | None, zone: str) -> datetime | None:
    """A time arrow's cast refused: ISO 8601 read by Python (a time without an offset is taken
    in the file's zone); what is no time at all is left empty, and said on stderr."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        print(f"not a time, left empty in the Parquet file: {value!r}", file=sys.stderr)
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_zone(zone))
    return moment


def _json(value: str | None, kind: type) -> list | dict | None:
    """A JSON list or object as the archive keeps it; what is not one (another program's
    row) is left empty, and said on stderr."""
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if not isinstance(parsed, kind):
        print(f"not a JSON {kind.__name__}, left empty in the Parquet file: {value!r}", file=sys.stderr)
        return None
    return parsed


def _zone(zone: str) -> timezone:
    if zone == "UTC":
        return timezone.utc
    sign = -1 if zone[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))


def describe(table: Export, all_columns: bool = False) -> str:
    """The export's columns as its Parquet file types them, with their descriptions."""
    description, described = descriptions(table)
    names = [name for name, _ in table.columns(all_columns=all_columns)]
    width = max(len(name) for name in names)
    types = {name: "timestamp[ms, tz=offset]" if table.kind(name) == TIME else str(arrow_type(table.kind(name), column=name))
             for name in names}
    type_width = max(len(kind) for kind in types.values())
    lines = [f"{table.name}: {description}", ""]
    lines += ["Times are UTC instants; tz is the forum's UTC offset (+08:00) when the file holds one, else UTC.", ""]
    lines += [f"{name:<{width}}  {types[name]:<{type_width}}  {described.get(name, '')}" for name in names]
    return "\n".join(lines)
