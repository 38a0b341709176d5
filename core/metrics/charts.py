"""Charts for the dashboards: series in, an inline SVG string out, drawn on the server by pygal.

One shared look (a CJK-capable font stack, sizes readable on a phone, a palette with enough
contrast on white) and one finish for every chart:

- **No external asset.** pygal adds a ``<script>`` fetching its tooltip code from a CDN and
  an inline ``<script>`` with the chart's configuration; ``js=[]`` drops the first and the
  finishing filter the second, so the SVG carries no script at all. Its stylesheet is
  inline (``<style>`` scoped to the chart's id); pygal's comments naming its web site go too.
- **Accessible.** The root is ``role="img"``, named by its ``<title>`` and described by a
  ``<desc>`` (``aria-labelledby``); the page shows the same numbers as a table beside it.
- **Responsive.** Only a ``viewBox`` (no width or height), so CSS sizes it to its box.

A chart is a frozen :class:`Chart` (labels and values, hashable) and :func:`svg` is
memoised on it: the same figures give the same SVG, and its id is derived from them, so
it is stable and unique on a page whose charts differ.
"""

from __future__ import annotations

import functools
import hashlib
import math
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal

import pygal
from markupsafe import Markup
from pygal.etree import etree
from pygal.style import Style

FONT = '"WenQuanYi Micro Hei", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif'
FONT_SIZE = 15  # in viewBox units: a 400-wide chart on a 375 px phone shows it at 12 px
WIDTH = 400
# Distinct on white and for the common colour-vision deficiencies (Okabe–Ito, darkened).
PALETTE = ("#0a5c99", "#b35900", "#1b7a52", "#8a3b78", "#5b6770", "#8c6d00")
CARE_COLORS = ("#b8282e", "#a66a00", "#1f7a3a")  # 红 / 黄 / 绿

Kind = Literal["line", "bar", "hbar"]


@dataclass(frozen=True)
class Series:
    """One named line or set of bars; ``None`` is a gap (no figure that week)."""

    title: str
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class Chart:
    """What to draw. ``title`` names the chart for assistive technology, ``summary`` says
    what it shows; ``labels`` are the x values (the bars' names for ``hbar``)."""

    kind: Kind
    title: str
    summary: str
    labels: tuple[str, ...]
    series: tuple[Series, ...]
    percent: bool = False  # values are percentages: axis from 0 to at least 100
    colors: tuple[str, ...] = field(default=PALETTE)

    @property
    def ident(self) -> str:
        """The SVG's id: derived from what is drawn, so stable across renders."""
        digest = hashlib.blake2s(repr(self).encode("utf-8"), digest_size=6).hexdigest()
        return f"chart-{digest}"


def svg(chart: Chart) -> Markup:
    """The chart as inline SVG markup (text is escaped by the XML writer)."""
    return Markup(_render(chart))  # pygal's XML serialiser has escaped every text


@functools.lru_cache(maxsize=256)
def _render(chart: Chart) -> str:
    graph = _graph(chart)
    # Horizontal bars are drawn bottom-up: reversed, the first label reads at the top.
    order = slice(None, None, -1) if chart.kind == "hbar" else slice(None)
    for series in chart.series:
        graph.add(series.title, list(series.values[order]))
    graph.x_labels = list(chart.labels[order])
    graph.uuid = chart.ident.removeprefix("chart-")
    graph.add_xml_filter(functools.partial(_finish, chart))
    rendered: str = graph.render(is_unicode=True)
    return rendered


def _graph(chart: Chart) -> Any:
    """The pygal chart object with the shared configuration for ``chart.kind``."""
    common: dict[str, Any] = {
        "style": _style(chart.colors),
        "js": [],  # no <script src> to pygal's CDN
        "disable_xml_declaration": True,  # inline in HTML
        "width": WIDTH,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": max(1, len(chart.series)),
        "truncate_legend": -1,
        "truncate_label": -1,
        "show_legend": len(chart.series) > 1,
        "margin": 8,
        "spacing": 8,
        "no_data_text": "暂无数据",
        "value_formatter": _axis_percent if chart.percent else _number,
        "formatter": _percent if chart.percent else _number,
        "allow_interruptions": True,
    }
    top = max((v for s in chart.series for v in s.values if v is not None), default=0)
    if chart.percent:  # 0–100% in quarters, or wider steps when a rate passes 100%
        step = 25
        while top > 4 * step:
            step *= 2
        ceiling = max(100, math.ceil(top / step) * step)
        common["range"] = (0, ceiling)
        common["y_labels"] = list(range(0, ceiling + 1, step))
    else:  # headroom for the values printed above the bars
        common["range"] = (0, max(4, top * 1.1))
        common["max_scale"] = 6
    if chart.kind == "line":
        return pygal.Line(
            height=280,
            dots_size=3,
            show_minor_x_labels=len(chart.labels) <= 6,
            x_labels_major_every=2,
            **common,
        )
    if chart.kind == "bar":
        return pygal.Bar(height=260, print_values=True, print_values_position="top", **common)
    rows = max(1, len(chart.labels))
    height = 40 + rows * (18 * len(chart.series) + 14) + (30 if len(chart.series) > 1 else 0)
    return pygal.HorizontalBar(
        height=max(160, height),
        print_values=True,
        print_values_position="top",
        margin_left=8 + _wide_extra(chart.labels),
        margin_right=8 + 4 * FONT_SIZE,  # room for the value printed past the longest bar
        **common,
    )


@functools.cache
def _style(colors: tuple[str, ...]) -> Style:
    return Style(
        background="#ffffff",
        plot_background="#ffffff",
        foreground="#222222",
        foreground_strong="#222222",
        foreground_subtle="#666666",
        opacity=".9",
        opacity_hover="1",
        colors=colors,
        font_family=FONT,
        label_font_size=FONT_SIZE,
        major_label_font_size=FONT_SIZE,
        value_font_size=FONT_SIZE - 1,
        value_label_font_size=FONT_SIZE - 1,
        legend_font_size=FONT_SIZE,
        title_font_size=FONT_SIZE + 2,
        tooltip_font_size=FONT_SIZE,
        no_data_font_size=FONT_SIZE + 4,
    )


def _wide_extra(labels: tuple[str, ...]) -> int:
    """Extra left margin for the bars' names: pygal reserves 0.6 em per character, and a
    CJK glyph is a whole em wide."""
    wide = max((_wide_count(label) for label in labels), default=0)
    return math.ceil(wide * 0.45 * FONT_SIZE)


def _wide_count(text: str) -> int:
    return sum(unicodedata.east_asian_width(c) in "WF" for c in text)


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def _axis_percent(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}%"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _finish(chart: Chart, root: Any) -> Any:
    """Strip pygal's comments and scripts; name and describe the chart."""
    for child in list(root):
        if child.tag is etree.Comment:
            root.remove(child)
    title = None
    for child in list(root):
        name = _local(child.tag)
        if name == "defs":
            for inner in list(child):
                if _local(inner.tag) == "script":
                    child.remove(inner)
        elif name == "title" and title is None:
            title = child
    assert title is not None, "pygal writes a <title> first"
    title.text = chart.title
    title.set("id", f"{chart.ident}-title")
    desc = etree.Element("desc", id=f"{chart.ident}-desc")
    desc.text = chart.summary
    root.insert(list(root).index(title) + 1, desc)
    if chart.kind == "hbar":  # values printed after the bar's end, not centred on it
        for node in root.iter():
            if _local(node.tag) == "text" and "value" in (node.get("class") or "").split():
                node.set("text-anchor", "start")
    root.set("role", "img")
    root.set("aria-labelledby", f"{chart.ident}-title {chart.ident}-desc")
    return root


def _local(tag: Any) -> str:
    """An element's tag without its namespace (lxml, when installed, qualifies them)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
