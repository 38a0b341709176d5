"""A workflow's state diagram as inline SVG, laid out on the server without Graphviz.

A small layered (Sugiyama-style) layout, deterministic for a given definition:

1. each state's layer is its distance from the initial state (breadth-first);
2. an edge that goes back up is laid out as if it went down and drawn reversed; an edge that
   skips layers gets a placeholder in each layer it crosses, so it never runs through a box;
3. two sweeps order each layer by the mean position of its neighbours above (ties keep the
   declaration order), then boxes are centred layer by layer;
4. edges between neighbouring layers are smooth curves, edges within a layer arcs below it,
   and a state's transitions to itself loops on its right.

Transitions between the same two states share one edge, labelled with all their names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from itertools import pairwise

from core.workflows.spec import Workflow

FONT = 14
SMALL = 11
BOX_HEIGHT = 42
LAYER_GAP = 112  # from one layer's top to the next one's
BOX_GAP = 56
PLACEHOLDER = 24
MARGIN = 24
LOOP = 46


def text_width(text: str, size: int = FONT) -> float:
    """Approximate rendered width: CJK characters are square, others about 0.6 em."""
    return sum(size if ord(c) >= 0x2E80 else size * 0.6 for c in text)


@dataclass
class Node:
    """A box (a state) or a placeholder an edge passes through."""

    key: str
    layer: int
    width: float
    state: str | None = None
    x: float = 0.0
    y: float = 0.0


@dataclass
class Edge:
    """Transitions from one state to another, with the placeholders they pass through."""

    source: str
    target: str
    label: str
    reverse: bool  # laid out downwards, drawn upwards
    chain: list[str] = field(default_factory=list)  # node keys, top to bottom


def render_svg(workflow: Workflow, counts: dict[str, int] | None = None) -> str:
    """The diagram as an ``<svg>`` element; ``counts`` adds the number of instances per state."""
    layers = _layers(workflow)
    nodes: dict[str, Node] = {}
    for state in workflow.states:
        label = _box_label(state.label, counts, state.name)
        width = max(88.0, text_width(label) + 28)
        nodes[state.name] = Node(state.name, layers[state.name], width, state=state.name)
    edges, same_layer, loops = _edges(workflow, layers, nodes)
    order = _order(workflow, nodes, edges)
    index = {key: i for row in order for i, key in enumerate(row)}
    beside = {
        frozenset((s, t)): label for s, t, label in same_layer if abs(index[s] - index[t]) == 1
    }
    width = _place(order, nodes, loops, beside)
    arcs = any(frozenset((s, t)) not in beside for s, t, _ in same_layer)
    height = MARGIN * 2 + (len(order) - 1) * LAYER_GAP + BOX_HEIGHT + (34 if arcs else 0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="workflow-diagram" role="img" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        f'font-family="sans-serif" font-size="{FONT}" aria-labelledby="wf-{workflow.name}-title">',
        f'<title id="wf-{workflow.name}-title">{escape(workflow.title)} 状态图</title>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker></defs>',
    ]
    parts += _draw_edges(edges, nodes)
    pairs = {(s, t) for s, t, _ in same_layer}
    for source, target, label in same_layer:
        if frozenset((source, target)) in beside:
            both = (target, source) in pairs
            parts.append(_draw_across(nodes[source], nodes[target], label, both))
        else:
            parts.append(_draw_arc(nodes[source], nodes[target], label))
    parts += [_draw_loop(nodes[s], label) for s, label in loops.items()]
    parts += [_draw_box(workflow, nodes[s.name], counts) for s in workflow.states]
    return "".join(parts) + "</svg>"


def _box_label(label: str, counts: dict[str, int] | None, state: str) -> str:
    return label if counts is None else f"{label}（{counts.get(state, 0)}）"


def _layers(workflow: Workflow) -> dict[str, int]:
    layers = {workflow.initial: 0}
    queue = [workflow.initial]
    while queue:
        current = queue.pop(0)
        for transition in workflow.outgoing(current):
            if transition.target not in layers:
                layers[transition.target] = layers[current] + 1
                queue.append(transition.target)
    deepest = max(layers.values()) + 1
    return {s.name: layers.get(s.name, deepest) for s in workflow.states}


def _edges(
    workflow: Workflow, layers: dict[str, int], nodes: dict[str, Node]
) -> tuple[list[Edge], list[tuple[str, str, str]], dict[str, str]]:
    grouped: dict[tuple[str, str], list[str]] = {}
    for transition in workflow.transitions:
        for source in transition.sources:
            grouped.setdefault((source, transition.target), []).append(transition.label)
    edges: list[Edge] = []
    same_layer: list[tuple[str, str, str]] = []
    loops: dict[str, str] = {}
    for (source, target), labels in grouped.items():
        label = "、".join(dict.fromkeys(labels))
        if source == target:
            loops[source] = label
        elif layers[source] == layers[target]:
            same_layer.append((source, target, label))
        else:
            reverse = layers[source] > layers[target]
            top, bottom = (target, source) if reverse else (source, target)
            edge = Edge(source, target, label, reverse, [top])
            for layer in range(layers[top] + 1, layers[bottom]):
                key = f"{source}>{target}@{layer}"
                nodes[key] = Node(key, layer, PLACEHOLDER)
                edge.chain.append(key)
            edge.chain.append(bottom)
            edges.append(edge)
    return edges, same_layer, loops


def _order(workflow: Workflow, nodes: dict[str, Node], edges: list[Edge]) -> list[list[str]]:
    rank = {s.name: i for i, s in enumerate(workflow.states)}
    above: dict[str, list[str]] = {}
    for edge in edges:
        for upper, lower in pairwise(edge.chain):
            above.setdefault(lower, []).append(upper)
    count = max(node.layer for node in nodes.values()) + 1
    order = [[k for k in nodes if nodes[k].layer == layer] for layer in range(count)]
    for row in order:  # states in declaration order, placeholders after them
        row.sort(key=lambda k: (rank.get(k, len(rank)), k))
    for _ in range(2):
        for layer in range(1, count):
            position = {k: i for i, k in enumerate(order[layer - 1])}
            weights: dict[str, tuple[float, int]] = {}
            for index, key in enumerate(order[layer]):
                parents = [position[p] for p in above.get(key, []) if p in position]
                mean = sum(parents) / len(parents) if parents else float(index)
                weights[key] = (mean, index)
            order[layer] = sorted(order[layer], key=weights.__getitem__)
    return order


def _place(
    order: list[list[str]],
    nodes: dict[str, Node],
    loops: dict[str, str],
    beside: dict[frozenset[str], str],
) -> float:
    """Give every node its centre; return the diagram's width. Neighbours joined by a
    transition get a gap wide enough for its label."""

    def room(key: str) -> float:
        loop = loops.get(key)
        return nodes[key].width + (LOOP + text_width(loop, SMALL) if loop else 0)

    def gap(left: str, right: str) -> float:
        label = beside.get(frozenset((left, right)))
        return max(BOX_GAP, text_width(label, SMALL) + 24) if label else BOX_GAP

    gaps = [[gap(a, b) for a, b in pairwise(row)] for row in order]
    widths = [sum(room(k) for k in row) + sum(g) for row, g in zip(order, gaps, strict=True)]
    total = max(widths) + MARGIN * 2
    for layer, row in enumerate(order):
        x = (total - widths[layer]) / 2
        for position, key in enumerate(row):
            node = nodes[key]
            node.x = x + node.width / 2
            node.y = MARGIN + layer * LAYER_GAP + BOX_HEIGHT / 2
            x += room(key) + (gaps[layer][position] if position < len(row) - 1 else 0)
    return total


def _ports(edges: list[Edge], nodes: dict[str, Node]) -> dict[tuple[int, str], float]:
    """Spread the edges that meet a box's top (or bottom) along it, ordered by where their
    other end lies, so that arrows do not pile up on one point."""
    sides: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for i, edge in enumerate(edges):
        first, second = nodes[edge.chain[0]], nodes[edge.chain[1]]
        last, before = nodes[edge.chain[-1]], nodes[edge.chain[-2]]
        sides.setdefault((first.key, "bottom"), []).append((second.x, i))
        sides.setdefault((last.key, "top"), []).append((before.x, i))
    ports: dict[tuple[int, str], float] = {}
    for (key, side), ends in sides.items():
        node = nodes[key]
        usable = node.width * 0.7
        for slot, (_, i) in enumerate(sorted(ends)):
            offset = usable * ((slot + 1) / (len(ends) + 1) - 0.5)
            ports[(i, "start" if side == "bottom" else "end")] = node.x + offset
    return ports


def _draw_edges(edges: list[Edge], nodes: dict[str, Node]) -> list[str]:
    ports = _ports(edges, nodes)
    pairs = {(edge.source, edge.target) for edge in edges}
    parts = []
    for i, edge in enumerate(edges):
        points = []
        for position, key in enumerate(edge.chain):
            node = nodes[key]
            if position == 0:
                points.append((ports[(i, "start")], node.y + BOX_HEIGHT / 2))
            elif position == len(edge.chain) - 1:
                points.append((ports[(i, "end")], node.y - BOX_HEIGHT / 2))
            else:
                points.append((node.x, node.y))
        if edge.reverse:
            points.reverse()
        path = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
        for (x0, y0), (x1, y1) in pairwise(points):
            middle = (y0 + y1) / 2
            path += f" C{x0:.1f},{middle:.1f} {x1:.1f},{middle:.1f} {x1:.1f},{y1:.1f}"
        style = ' stroke-dasharray="5 3"' if edge.reverse else ""
        parts.append(
            f'<path d="{path}" fill="none" stroke="#555" stroke-width="1.3"{style} '
            f'marker-end="url(#arrow)"/>'
        )
        middle = len(points) // 2
        (x0, y0), (x1, y1) = points[middle - 1], points[middle]
        # Both directions between two states: each label on its own side of the pair.
        side = 0 if (edge.target, edge.source) not in pairs else 1 if edge.reverse else -1
        parts.append(_label((x0 + x1) / 2, (y0 + y1) / 2, edge.label, side))
    return parts


def _label(x: float, y: float, text: str, side: int = 0) -> str:
    """A label centred on ``(x, y)``, or beside it: to the left (``side=-1``) or right (1)."""
    width = text_width(text, SMALL) + 8
    left = x - width / 2 + side * (width / 2 + 4)
    return (
        f'<rect x="{left:.1f}" y="{y - 9:.1f}" width="{width:.1f}" height="17" '
        f'rx="3" fill="#fff" fill-opacity="0.9"/>'
        f'<text x="{left + width / 2:.1f}" y="{y + 4:.1f}" font-size="{SMALL}" '
        f'text-anchor="middle" fill="#333">{escape(text)}</text>'
    )


def _draw_across(source: Node, target: Node, label: str, both: bool) -> str:
    """A straight arrow to the neighbouring box, its label above (or, for the second of two
    opposite arrows, below)."""
    rightwards = target.x > source.x
    shift = (-6 if rightwards else 6) if both else 0
    y = source.y + shift
    start = source.x + (source.width / 2 if rightwards else -source.width / 2)
    end = target.x + (-target.width / 2 if rightwards else target.width / 2)
    label_y = y - 12 if shift <= 0 else y + 12
    return (
        f'<path d="M{start:.1f},{y:.1f} L{end:.1f},{y:.1f}" fill="none" stroke="#555" '
        f'stroke-width="1.3" marker-end="url(#arrow)"/>' + _label((start + end) / 2, label_y, label)
    )


def _draw_arc(source: Node, target: Node, label: str) -> str:
    y = source.y + BOX_HEIGHT / 2
    dip = y + 34
    return (
        f'<path d="M{source.x:.1f},{y:.1f} C{source.x:.1f},{dip:.1f} {target.x:.1f},{dip:.1f} '
        f'{target.x:.1f},{y:.1f}" fill="none" stroke="#555" stroke-width="1.3" '
        f'marker-end="url(#arrow)"/>' + _label((source.x + target.x) / 2, dip - 8, label)
    )


def _draw_loop(node: Node, label: str) -> str:
    x = node.x + node.width / 2
    return (
        f'<path d="M{x:.1f},{node.y - 9:.1f} C{x + LOOP:.1f},{node.y - 30:.1f} '
        f'{x + LOOP:.1f},{node.y + 30:.1f} {x:.1f},{node.y + 9:.1f}" fill="none" '
        f'stroke="#555" stroke-width="1.3" marker-end="url(#arrow)"/>'
        f'<text x="{x + LOOP - 6:.1f}" y="{node.y + 4:.1f}" font-size="{SMALL}" '
        f'fill="#333">{escape(label)}</text>'
    )


def _draw_box(workflow: Workflow, node: Node, counts: dict[str, int] | None) -> str:
    state = workflow.state(node.state or "")
    assert state is not None
    left, top = node.x - node.width / 2, node.y - BOX_HEIGHT / 2
    fill, stroke = ("#eceff1", "#607d8b") if state.closed else ("#fff8e1", "#b71c1c")
    width = 2.6 if state.name == workflow.initial else 1.3
    kind = "closed" if state.closed else "open"
    box = (
        f'<g class="state state-{kind}" data-state="{escape(state.name)}">'
        f'<rect x="{left:.1f}" y="{top:.1f}" width="{node.width:.1f}" height="{BOX_HEIGHT}" '
        f'rx="{6 if state.closed else 10}" fill="{fill}" stroke="{stroke}" '
        f'stroke-width="{width}"/>'
    )
    if state.closed:  # a double border, as terminal states are drawn
        box += (
            f'<rect x="{left + 3:.1f}" y="{top + 3:.1f}" width="{node.width - 6:.1f}" '
            f'height="{BOX_HEIGHT - 6}" rx="4" fill="none" stroke="{stroke}" stroke-width="0.8"/>'
        )
    text = _box_label(state.label, counts, state.name)
    return (
        box + f'<text x="{node.x:.1f}" y="{node.y + 5:.1f}" text-anchor="middle" '
        f'fill="#212121">{escape(text)}</text></g>'
    )
