"""The profiles file: a TOML file of the user's selector profiles for modified themes, thread
pages in ``[[profile]]`` tables (scraper.profiles) and forum lists in ``[[listing]]`` tables
(scraper.listing_profiles). Checked whole when read, so that a mistake stops the crawl
before its first request, with a message naming the profile and the field. The format is in
docs/profiles.md.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass

from lxml import etree

from scraper import listing_profiles, profiles
from scraper.listing_profiles import ListingProfile
from scraper.profiles import Profile
from scraper.xpath import compiled


@dataclass(frozen=True)
class _Table:
    """One kind of table in a profiles file: what its entries become and how they are checked."""

    key: str
    built_in: dict
    fields: dict[str, str]
    document_fields: tuple[str, ...]
    item: str  # what per-item selectors start at: "post", "row"
    starts: tuple[str, ...]  # how a per-item selector may begin


_TABLES = (
    _Table(
        "profile", {p.name: p for p in profiles.BUILT_IN + (profiles.GENERIC,)}, profiles.FIELDS,
        profiles.DOCUMENT_FIELDS, "post", (".", "id("),
    ),
    _Table(
        "listing", {p.name: p for p in listing_profiles.BUILT_IN}, listing_profiles.LISTING_FIELDS,
        listing_profiles.LISTING_DOCUMENT_FIELDS, "row", (".", "self::"),
    ),
)


def profiles_from_toml(text: str) -> tuple[Profile | ListingProfile, ...]:
    """The user's profiles from an override file: thread profiles ([[profile]]) and listing
    profiles ([[listing]]), in the file's order. Raises ValueError naming the profile and
    field of anything wrong, so a bad file stops the crawl before its first request."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"the profiles file is not valid TOML: {error}") from None
    unknown = set(data) - {table.key for table in _TABLES}
    if unknown:
        raise ValueError(
            f"the profiles file has unknown tables {sorted(unknown)}; profiles go in [[profile]], forum lists in [[listing]]"
        )
    found = []
    for table in _TABLES:
        entries = data.get(table.key, [])
        if not isinstance(entries, list):
            raise ValueError(f"the profiles file's {table.key} tables go in [[{table.key}]] (two brackets)")
        found += [_profile(table, entry, number) for number, entry in enumerate(entries, 1)]
    return tuple(found)


def _profile(table: _Table, entry: dict, number: int) -> Profile | ListingProfile:
    name = entry.get("name") or f"{table.key} {number}"
    unknown = set(entry) - set(table.fields) - {"name", "extends", "sites"}
    if unknown:
        raise ValueError(f"{name}: unknown keys {sorted(unknown)}; the fields are {sorted(table.fields)}")
    base_name = entry.get("extends", "generic")
    if base_name not in table.built_in:
        raise ValueError(f"{name}: extends {base_name!r}, which is none of {sorted(table.built_in)}")
    fields = {"name": name, "sites": _strings(name, "sites", entry.get("sites", []))}
    for field in table.fields:
        if field in entry:
            fields[field] = _strings(name, field, entry[field])
            for expression in fields[field]:
                _check(table, name, field, expression)
    if not fields["sites"] and not fields.get("detect"):
        raise ValueError(f"{name}: say where it applies, with sites = [...] or detect = \"...\"")
    return dataclasses.replace(table.built_in[base_name], **fields)


def _strings(name: str, field: str, value) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise ValueError(f"{name}: {field} must be a string or a list of strings")
    return tuple(values)


def _check(table: _Table, name: str, field: str, expression: str) -> None:
    if field not in table.document_fields and not expression.lstrip("(").startswith(table.starts):
        # "//a" would find the page's first link for every post.
        how = "or id(… $pid …) (by the post's id)" if table.item == "post" else "or self:: (the row itself)"
        raise ValueError(
            f"{name}: {field} is looked for in each {table.item}: start it with '.' (inside the {table.item})"
            f" {how}: {expression!r}"
        )
    try:
        found = compiled(expression)(etree.fromstring("<html><body/></html>"), pid="0")
    except etree.XPathError as error:
        raise ValueError(f"{name}: {field} is not a valid XPath ({error}): {expression!r}") from None
    if field in _UNITED and not isinstance(found, list):
        # A row's marks are looked for in one union of its selectors: node-sets only.
        raise ValueError(f"{name}: {field} must find elements (not a boolean, number or string): {expression!r}")


_UNITED = ("sticky", "digest")
