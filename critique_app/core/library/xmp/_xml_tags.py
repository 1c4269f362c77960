"""A tokenizer just good enough to locate tags in XML that expat has already accepted."""

from __future__ import annotations

import re
from dataclasses import dataclass

from critique_app.core.library.xmp._properties import XML_NS

_NAME = r"[^\s=/<>\"']+"
_VALUE = r"(?:\"[^\"]*\"|'[^']*')"
_MARKUP = re.compile(
    r"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>"
    rf"|</(?P<end>{_NAME})\s*>"
    rf"|<(?P<start>{_NAME})(?P<attrs>(?:\s+{_NAME}\s*=\s*{_VALUE})*)\s*(?P<empty>/?)>",
    re.S,
)
_ATTRIBUTE = re.compile(
    rf"(?P<sep>\s+)(?P<name>{_NAME})\s*=\s*(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)')"
)
_REFERENCE = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


class CannotEdit(Exception):
    """The text has markup this tokenizer does not follow; it is not edited."""


@dataclass
class Attribute:
    """One attribute of a start tag, with where its parts lie in the text."""

    name: str
    key: tuple[str | None, str]  # (namespace, local name)
    value: str
    span: tuple[int, int]  # of the raw value, inside the quotes
    sep: str  # the whitespace before it
    whole: tuple[int, int]  # the whitespace before it, the name, "=", the quoted value


@dataclass(eq=False)
class Tag:
    """One element: its start tag, its place in the tree, and where it lies in the text."""

    name: str
    key: tuple[str | None, str]
    parent: Tag | None
    scope: dict[str, str]  # prefix -> namespace, own declarations included
    attributes: list[Attribute]
    start: int
    attributes_end: int  # where a new attribute goes
    start_tag_end: int
    empty: bool
    end_tag_start: int | None = None
    end: int | None = None  # after the end tag (the start tag when empty)


def _unescape(value: str) -> str:
    def one(match: re.Match[str]) -> str:
        ref = match[1]
        if ref.startswith("#x"):
            return chr(int(ref[2:], 16))
        return chr(int(ref[1:])) if ref.startswith("#") else _ENTITIES[ref]

    return _REFERENCE.sub(one, value)


def scan(text: str) -> list[Tag]:
    """Every element's tags, in document order, with parents and namespace scopes."""
    tags: list[Tag] = []
    open_tags: list[Tag] = []
    position = text.find("<")
    while position != -1:
        match = _MARKUP.match(text, position)
        if match is None:
            raise CannotEdit
        if match["end"] is not None:
            if not open_tags:
                raise CannotEdit
            closed = open_tags.pop()
            closed.end_tag_start, closed.end = position, match.end()
        elif match["start"] is not None:
            tag = _start_tag(match, open_tags[-1] if open_tags else None)
            tags.append(tag)
            if tag.empty:
                tag.end = tag.start_tag_end
            else:
                open_tags.append(tag)
        position = text.find("<", match.end())
    return tags


def _start_tag(match: re.Match[str], parent: Tag | None) -> Tag:
    base = match.start("attrs")
    raw = []
    for found in _ATTRIBUTE.finditer(match["attrs"]):
        group = "dq" if found["dq"] is not None else "sq"
        span = (base + found.start(group), base + found.end(group))
        whole = (base + found.start(), base + found.end())
        raw.append((found["name"], _unescape(found[group]), span, found["sep"], whole))
    scope = dict(parent.scope) if parent else {"xml": XML_NS}
    for name, value, _, _, _ in raw:
        if name == "xmlns" or name.startswith("xmlns:"):
            scope[name[6:]] = value  # "" is the default namespace
    attributes = [
        Attribute(name, _attribute_key(name, scope), value, span, sep, whole)
        for name, value, span, sep, whole in raw
        if name != "xmlns" and not name.startswith("xmlns:")
    ]
    prefix, _, local = match["start"].rpartition(":")
    return Tag(
        name=match["start"],
        key=(scope.get(prefix) or None, local),
        parent=parent,
        scope=scope,
        attributes=attributes,
        start=match.start(),
        attributes_end=match.end("attrs"),
        start_tag_end=match.end(),
        empty=bool(match["empty"]),
    )


def _attribute_key(name: str, scope: dict[str, str]) -> tuple[str | None, str]:
    prefix, _, local = name.rpartition(":")
    return (scope.get(prefix) if prefix else None), local  # no default namespace here
