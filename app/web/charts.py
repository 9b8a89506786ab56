"""Server-rendered SVG charts: no chart library, no script, styled by classes in app.css.

Every value that reaches the markup is escaped; each bar carries a ``<title>``
so that screen readers and hover show the number.
"""

from __future__ import annotations

from datetime import date

from markupsafe import Markup, escape


def month_range(start: date, months: int) -> list[str]:
    year, month = start.year, start.month
    out = []
    for _ in range(months):
        out.append(f"{year:04d}-{month:02d}")
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return out


def expiry_chart(counts: dict[str, int], months: list[str], current: str, title: str) -> Markup:
    """Bars per month (``YYYY-MM`` → count); months before ``current`` are drawn as overdue."""
    width, height, left, bottom, top = 720, 220, 32, 36, 12
    plot_h = height - bottom - top
    n = max(len(months), 1)
    step = (width - left - 8) / n
    peak = max([*counts.values(), 1])
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-title" '
        'data-testid="expiry-chart" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<line class="axis" x1="{left}" y1="{height - bottom}" x2="{width - 4}" y2="{height - bottom}"/>',
        f'<text x="2" y="{top + 10}">{peak}</text>',
        f'<text x="2" y="{height - bottom}">0</text>',
    ]
    for i, month in enumerate(months):
        count = counts.get(month, 0)
        bar_h = round(plot_h * count / peak, 1)
        x = round(left + i * step + 2, 1)
        y = round(height - bottom - bar_h, 1)
        css = "bar past" if month < current else "bar"
        parts.append(
            f'<rect class="{css}" x="{x}" y="{y}" width="{round(max(step - 4, 1), 1)}" height="{bar_h}">'
            f"<title>{escape(month)}: {count}</title></rect>"
        )
        if count:
            parts.append(f'<text x="{x}" y="{y - 2}">{count}</text>')
        if i % 3 == 0:
            parts.append(f'<text x="{x}" y="{height - bottom + 14}">{escape(month[2:])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated value above is escaped or a number
