"""The drawn custody timeline: one lane per custodian, time left to right.

Each stretch between two events is a bar in the lane of whoever held the
connector, coloured by the connector's state; a handover is a vertical line
from the releasing lane to the receiving one; every event is a tick.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors

from app.reports.pdf import short_id
from ledger.times import parse_timestamp

STATE_COLOURS: dict[str, str] = {
    "PRODUCED": "#b0bec5",
    "PERSONALISED": "#90a4ae",
    "SEALED": "#7986cb",
    "IN_STOCK": "#64b5f6",
    "IN_TRANSIT": "#ffb74d",
    "RECEIVED": "#4dd0e1",
    "INSTALLED": "#81c784",
    "IN_OPERATION": "#388e3c",
    "DEREGISTERED": "#aed581",
    "REMOVED": "#bcaaa4",
    "RETURN_TRANSIT": "#ffcc80",
    "RETURNED": "#a1887f",
    "DECOMMISSIONED": "#757575",
    "DESTROYED": "#212121",
    "SUSPECT": "#e57373",
    "QUARANTINED": "#c62828",
    "LOST": "#6a1b9a",
}
TERMINAL = frozenset({"DESTROYED", "LOST"})
LANE = 15.0
LABEL_WIDTH = 95.0
AXIS = 26.0


@dataclass(frozen=True)
class TimelinePoint:
    """An event as the timeline needs it: when, who held the unit after it, its state after it."""

    at: str
    custodian: str
    state: str | None
    handover: bool = False


def _even(start: float, end: float, pattern: str) -> list[tuple[float, str]]:
    step = (end - start) / 5
    return [
        (start + i * step, f"{datetime.fromtimestamp(start + i * step, tz=UTC):{pattern}}") for i in range(6)
    ]


def ticks(start: float, end: float) -> list[tuple[float, str]]:
    """Axis ticks and labels: calendar years, months or days for long spans, even steps else."""
    first = datetime.fromtimestamp(start, tz=UTC)
    if end <= start:
        return [(start, f"{first:%Y-%m-%d %H:%M}")]
    span = end - start
    last = datetime.fromtimestamp(end, tz=UTC)
    if span >= 2 * 365 * 86400:
        years = list(range(first.year + 1, last.year + 1))
        step = max(1, -(-len(years) // 8))
        marks = [datetime(y, 1, 1, tzinfo=UTC) for y in years[::step]]
        return [(m.timestamp(), f"{m:%Y}") for m in marks]
    if span >= 60 * 86400:
        months = []
        year, month = first.year, first.month
        while True:
            month += 1
            if month == 13:
                year, month = year + 1, 1
            mark = datetime(year, month, 1, tzinfo=UTC)
            if mark.timestamp() > end:
                break
            months.append(mark)
        step = max(1, -(-len(months) // 8))
        return [(m.timestamp(), f"{m:%Y-%m}") for m in months[::step]]
    if span >= 2 * 86400:
        return _even(start, end, "%Y-%m-%d")
    return _even(start, end, "%H:%M:%S" if span < 3600 else "%m-%d %H:%M")


def custody_timeline(points: Sequence[TimelinePoint], end: str, width: float) -> Drawing:
    """Draw ``points`` (in log order) up to ``end`` (the report's as-of time)."""
    lanes: list[str] = []
    for point in points:
        if point.custodian not in lanes:
            lanes.append(point.custodian)
    times: list[float] = []
    for point in points:
        moment = parse_timestamp(point.at).timestamp()
        # Offline technicians sync late: keep the drawing monotonic.
        times.append(max(moment, times[-1]) if times else moment)
    finish = max(parse_timestamp(end).timestamp(), times[-1] if times else 0.0)
    start = times[0] if times else finish
    states = [p.state for p in points if p.state]
    legend = sorted(set(states), key=list(STATE_COLOURS).index)
    legend_rows = (len(legend) + 5) // 6
    height = AXIS + LANE * max(len(lanes), 1) + 6 + legend_rows * 11 + 4
    drawing = Drawing(width, height)
    top = height - 4
    plot_left, plot_right = LABEL_WIDTH, width - 10

    def x_of(moment: float) -> float:
        if finish <= start:
            return plot_left
        return plot_left + (moment - start) / (finish - start) * (plot_right - plot_left)

    def y_of(lane: str) -> float:
        return top - LANE * (lanes.index(lane) + 1) + LANE / 2

    for number, lane in enumerate(lanes):
        y = top - LANE * (number + 1)
        if number % 2 == 0:
            drawing.add(Rect(0, y, width, LANE, fillColor=colors.HexColor("#f5f5f5"), strokeColor=None))
        drawing.add(String(2, y + LANE / 2 - 3, short_id(lane)[:24], fontName="Helvetica", fontSize=7))
    for number, point in enumerate(points):
        begin = times[number]
        stop = times[number + 1] if number + 1 < len(points) else finish
        if point.state in TERMINAL:
            stop = begin
        y = y_of(point.custodian)
        colour = colors.HexColor(STATE_COLOURS.get(point.state or "", "#9e9e9e"))
        left, right = x_of(begin), x_of(stop)
        if right - left > 0.2:
            drawing.add(Rect(left, y - 3.5, right - left, 7, fillColor=colour, strokeColor=None))
        if point.handover and number > 0:
            previous = y_of(points[number - 1].custodian)
            drawing.add(
                Line(left, previous, left, y, strokeColor=colors.HexColor("#37474f"), strokeWidth=0.8)
            )
        drawing.add(Line(left, y - 5, left, y + 5, strokeColor=colors.black, strokeWidth=0.4))
    axis_y = top - LANE * max(len(lanes), 1) - 4
    drawing.add(Line(plot_left, axis_y, plot_right, axis_y, strokeColor=colors.black, strokeWidth=0.5))
    for tick, label in ticks(start, finish):
        x = x_of(tick)
        drawing.add(Line(x, axis_y, x, axis_y - 3, strokeColor=colors.black, strokeWidth=0.5))
        drawing.add(String(x, axis_y - 11, label, fontName="Helvetica", fontSize=6.5, textAnchor="middle"))
    legend_top = axis_y - AXIS + 6
    for number, state in enumerate(legend):
        row, column = divmod(number, 6)
        x = plot_left + column * (plot_right - plot_left) / 6
        y = legend_top - row * 11
        drawing.add(Rect(x, y, 8, 6, fillColor=colors.HexColor(STATE_COLOURS[state]), strokeColor=None))
        drawing.add(String(x + 11, y + 0.5, state, fontName="Helvetica", fontSize=6.5))
    return drawing
