"""Geometry for small server-rendered SVG charts. Pure functions: no ORM, no request.

A view turns a series of `(label, value)` points into a `BarChart` or `LineChart`
and a template draws it with plain `<svg>` elements (no JavaScript, no CDN, no
inline styles, so it works under the site's strict Content-Security-Policy).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

# Plot area margins inside the SVG viewBox: room for the y-axis labels on the left
# and the x-axis labels underneath.
MARGIN_LEFT = 44
MARGIN_RIGHT = 8
MARGIN_TOP = 10
MARGIN_BOTTOM = 24
# The font size (chart units) the stylesheets draw axis labels at on a wide screen, and
# the average character width as a share of it (generous, so estimates do not overlap).
LABEL_UNITS = 11
CHARACTER_WIDTH = 0.62
# Room between two axis labels, and between a y-axis label and the plot.
LABEL_GAP = 6


@dataclass(frozen=True, slots=True)
class ChartPoint:
    """One data point: a short axis label, a longer tooltip label, and its value."""

    label: str
    value: int
    title: str = ""


@dataclass(frozen=True, slots=True)
class Tick:
    """An axis tick: where to draw it (x or y in viewBox units), its text, and how the
    text is anchored (labels near the edges are anchored inwards so they are not cut)."""

    position: float
    label: str
    anchor: str = "middle"
    # Hidden where the labels are drawn large (phones), so the others do not collide.
    minor: bool = False


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    title: str


@dataclass(frozen=True, slots=True)
class Marker:
    x: float
    y: float
    value: int
    title: str


@dataclass(frozen=True, slots=True)
class _Frame:
    """The shared part of every chart: size, plot area and axes."""

    width: int
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    y_max: int
    total: int
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    point_count: int

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to draw (no points, or all zero)."""
        return self.total == 0

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"

    @property
    def plot_width(self) -> float:
        return self.plot_right - self.plot_left

    @property
    def empty_x(self) -> float:
        return round(self.plot_left + self.plot_width / 2, 2)

    @property
    def empty_y(self) -> float:
        return round(self.plot_top + (self.plot_bottom - self.plot_top) / 2, 2)


@dataclass(frozen=True, slots=True)
class BarChart(_Frame):
    """Everything a template needs to draw a bar chart."""

    bars: tuple[Bar, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class LineChart(_Frame):
    """Everything a template needs to draw a line chart with a shaded area."""

    markers: tuple[Marker, ...] = field(default_factory=tuple)
    line_points: str = ""
    area_path: str = ""


def nice_ceiling(value: int) -> int:
    """Round `value` up to 1, 2 or 5 times a power of ten, so axis labels are round.

    Zero stays at a scale of 1 so an empty chart still has a sensible axis.
    """
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def tick_steps(y_max: int) -> int:
    """How many equal steps divide a `nice_ceiling` maximum into whole, round numbers:
    1 → 1, 2 → 2, 5 → 5, 10 → 5 (by 2), 20 → 4 (by 5), 50 → 5 (by 10)."""
    if y_max <= 2:
        return max(y_max, 1)
    leading_digit = y_max // 10 ** math.floor(math.log10(y_max))
    return 4 if leading_digit == 2 else 5


def compact_number(value: int) -> str:
    """Write an axis number briefly: 950, 1.5k, 20k, 3M."""
    if value >= 1_000_000:
        text = f"{value / 1_000_000:.1f}".removesuffix(".0")
        return f"{text}M"
    if value >= 1_000:
        text = f"{value / 1_000:.1f}".removesuffix(".0")
        return f"{text}k"
    return str(value)


def label_width(label: str, label_units: float) -> float:
    """About how wide `label` is drawn at a font size of `label_units` chart units."""
    return len(label) * CHARACTER_WIDTH * label_units


def _x_label_anchor(x: float, half: float, *, plot_left: float, width: int) -> str:
    """Labels near the edges are anchored inwards so they are not cut (any label closer
    than 20 units, about half a short one like "28 Nov", to an edge), nor run into the
    y-axis labels on the left."""
    half = max(half, 20)
    if x + half > width:
        return "end"
    if x - half < plot_left:
        return "start"
    return "middle"


def _x_label_span(tick: Tick, label_units: float) -> tuple[float, float]:
    width = label_width(tick.label, label_units)
    if tick.anchor == "end":
        return tick.position - width, tick.position
    if tick.anchor == "start":
        return tick.position, tick.position + width
    return tick.position - width / 2, tick.position + width / 2


def _mark_minor_ticks(ticks: list[Tick], label_units: float) -> list[Tick]:
    """Keep every other label (counting from the right, the latest) as long as two drawn
    at `label_units` would collide; the others become minor (hidden when drawn large)."""
    step = 1
    while step < len(ticks):
        kept = ticks[::-1][::step]
        spans = [_x_label_span(tick, label_units) for tick in kept]
        if all(
            left[0] >= right[1] + LABEL_GAP for left, right in zip(spans, spans[1:], strict=False)
        ):
            break
        step *= 2
    kept_ids = {id(tick) for tick in ticks[::-1][::step]}
    return [
        tick if id(tick) in kept_ids else Tick(tick.position, tick.label, tick.anchor, minor=True)
        for tick in ticks
    ]


def _frame_values(
    points: Sequence[ChartPoint],
    *,
    width: int,
    height: int,
    label_every: int,
    label_units: float = LABEL_UNITS,
) -> dict:
    values = [max(0, point.value) for point in points]
    y_max = nice_ceiling(max(values, default=0))
    tick_count = tick_steps(y_max)
    y_labels = [compact_number(y_max * step // tick_count) for step in range(tick_count + 1)]
    # Wide enough for the longest y-axis label at its largest size, so none is cut off.
    widest = max(label_width(label, label_units) for label in y_labels)
    margin_left = max(MARGIN_LEFT, math.ceil(widest + LABEL_GAP + 2))
    plot_left, plot_right = margin_left, width - MARGIN_RIGHT
    plot_top, plot_bottom = MARGIN_TOP, height - MARGIN_BOTTOM
    plot_height = plot_bottom - plot_top
    y_ticks = tuple(
        Tick(position=round(plot_bottom - plot_height * step / tick_count, 2), label=label)
        for step, label in enumerate(y_labels)
    )
    slot = (plot_right - plot_left) / max(len(points), 1)
    x_ticks = [
        Tick(
            position=round(plot_left + slot * (index + 0.5), 2),
            label=point.label,
            anchor=_x_label_anchor(
                plot_left + slot * (index + 0.5),
                label_width(point.label, label_units) / 2,
                plot_left=plot_left,
                width=width,
            ),
        )
        for index, point in enumerate(points)
        if index % max(label_every, 1) == 0 and point.label
    ]
    x_ticks = tuple(_mark_minor_ticks(x_ticks, label_units))
    return {
        "width": width,
        "height": height,
        "plot_left": plot_left,
        "plot_right": plot_right,
        "plot_top": plot_top,
        "plot_bottom": plot_bottom,
        "y_max": y_max,
        "total": sum(values),
        "y_ticks": y_ticks,
        "x_ticks": x_ticks,
        "point_count": len(points),
    }


def bar_chart(
    points: Sequence[ChartPoint],
    *,
    width: int = 640,
    height: int = 180,
    label_every: int = 1,
    gap_ratio: float = 0.25,
    label_units: float = LABEL_UNITS,
) -> BarChart:
    """Lay out one bar per point, scaled so the tallest fits under a round axis maximum.

    A zero value gets no visible bar (height 0) but keeps its slot and tooltip.
    `label_units` is the largest font size (chart units) the labels are drawn at: the
    y-axis margin fits them, and x labels that would collide at that size are minor.
    """
    frame = _frame_values(
        points, width=width, height=height, label_every=label_every, label_units=label_units
    )
    slot = (frame["plot_right"] - frame["plot_left"]) / max(len(points), 1)
    # A single bar should not fill the whole chart: cap its width.
    bar_width = min(slot * (1 - gap_ratio), 48.0)
    plot_height = frame["plot_bottom"] - frame["plot_top"]
    bars = []
    for index, point in enumerate(points):
        value = max(0, point.value)
        bar_height = plot_height * value / frame["y_max"]
        center = frame["plot_left"] + slot * (index + 0.5)
        bars.append(
            Bar(
                x=round(center - bar_width / 2, 2),
                y=round(frame["plot_bottom"] - bar_height, 2),
                width=round(bar_width, 2),
                height=round(bar_height, 2),
                value=value,
                title=point.title or point.label,
            )
        )
    return BarChart(**frame, bars=tuple(bars))


def line_chart(
    points: Sequence[ChartPoint],
    *,
    width: int = 720,
    height: int = 200,
    label_every: int = 1,
) -> LineChart:
    """Lay out a polyline through the points and the closed area under it.

    One point is drawn as a lone marker (a line needs two); no points gives an
    empty chart with axes only.
    """
    frame = _frame_values(points, width=width, height=height, label_every=label_every)
    slot = (frame["plot_right"] - frame["plot_left"]) / max(len(points), 1)
    plot_height = frame["plot_bottom"] - frame["plot_top"]
    markers = tuple(
        Marker(
            x=round(frame["plot_left"] + slot * (index + 0.5), 2),
            y=round(frame["plot_bottom"] - plot_height * max(0, point.value) / frame["y_max"], 2),
            value=max(0, point.value),
            title=point.title or point.label,
        )
        for index, point in enumerate(points)
    )
    line_points = " ".join(f"{marker.x},{marker.y}" for marker in markers)
    area_path = ""
    if len(markers) >= 2:
        bottom = frame["plot_bottom"]
        area_path = (
            f"M{markers[0].x},{bottom} "
            + " ".join(f"L{marker.x},{marker.y}" for marker in markers)
            + f" L{markers[-1].x},{bottom} Z"
        )
    return LineChart(**frame, markers=markers, line_points=line_points, area_path=area_path)
