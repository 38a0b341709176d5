"""The wire formats of Open311 GeoReport v2 (:mod:`core.tickets.open311`): JSON and XML by
the resource's extension, W3C date-times, and errors as the specification's array of
``{code, description}``.

XML is written with :mod:`xml.etree.ElementTree`: schemaless, without a namespace, UTF-8,
preceded by the XML declaration. A list is an element holding one child per item, named
as the specification names it (``services`` → ``service``, ``service_requests`` →
``request``, ``attributes`` → ``attribute``, ``values`` → ``value``, ``errors`` →
``error``); ``None`` is an empty element, ``True`` ``true``. JSON is the same structure
(the specification's "Spark convention").
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, tzinfo
from typing import Any

from fastapi import Response

FORMATS = ("json", "xml")
MEDIA_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
ITEMS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}
DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
# characters XML 1.0 cannot carry (all C0 controls but tab, newline and carriage return)
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class Open311Error(Exception):
    """A refused request: the HTTP status and the error's description (Chinese first, the
    field named); the body's ``code`` is the HTTP status, as the specification suggests."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def format_of(extension: str) -> str:
    """``json`` or ``xml`` from the resource's extension; anything else is a 400 (in XML,
    the specification's required format)."""
    if extension in FORMATS:
        return extension
    raise Open311Error(400, "format: 格式应为 .json 或 .xml / the format must be json or xml")


def answer(fmt: str, root: str, content: Any, status: int = 200) -> Response:
    """``content`` (a list, or a dict for one object) as JSON or as XML under ``root``."""
    if fmt == "json":
        body = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
    else:
        text = ET.tostring(_element(root, content), encoding="unicode")
        body = (DECLARATION + text).encode()
    return Response(body, status_code=status, media_type=MEDIA_TYPES[fmt])


def error_answer(fmt: str, error: Open311Error) -> Response:
    content = [{"code": error.status, "description": error.description}]
    return answer(fmt, "errors", content, error.status)


def _element(tag: str, value: Any) -> ET.Element:
    node = ET.Element(tag)
    if isinstance(value, dict):
        for name, item in value.items():
            node.append(_element(name, item))
    elif isinstance(value, list):
        child = ITEMS[tag]
        for item in value:
            node.append(_element(child, item))
    elif value is not None:
        node.text = _text(value)
    return node


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return NOT_XML.sub("", str(value))


def w3c(moment: datetime | None, zone: tzinfo) -> str | None:
    """``moment`` in the W3C profile of ISO 8601, with the installation's offset
    (``2026-11-27T10:00:00+08:00``)."""
    if moment is None:
        return None
    return moment.astimezone(zone).replace(microsecond=0).isoformat()


def parse_w3c(name: str, raw: str) -> datetime:
    """A W3C date-time with its time zone (``Z`` or ``±HH:MM``), or a 400 naming ``name``."""
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or "T" not in raw:
        raise Open311Error(
            400,
            f"{name}: 应为带时区的 W3C 时间，如 2026-11-01T00:00:00+08:00 / "
            "a W3C date-time with its time zone, e.g. 2010-01-01T00:00:00Z",
        )
    return moment
