"""Label geometries: A4 sheets and thermal labels, as data.

Sheet geometry follows the manufacturers' specifications (label size,
columns × rows, top and side margin of the first label, horizontal and
vertical pitch = label size plus gap). All lengths are millimetres; boxes are
given from the page's bottom-left corner, as PDF draws them. Positions on a
sheet are numbered 1…N row by row, left to right, top to bottom; ``start``
skips the positions already used on a part-used sheet.

QR module sizes are whole printer dots where that is known: 1/600 in on
laser sheets, 6/300 in on the 62 × 29 mm label (Brother QL, 300 dpi) and
6/203 in on the 4 × 2 in label (Zebra, 203 dpi). Every size is ≥ 0.5 mm.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.errors import InvalidInput

A4 = (210.0, 297.0)
INCH = 25.4
MIN_MODULE_MM = 0.5


class UnknownLayout(InvalidInput):
    code = "input.label_layout"


class StartPositionOutOfRange(InvalidInput):
    code = "input.label_start"


@dataclass(frozen=True)
class Box:
    """A rectangle in mm: ``x``, ``y`` of the bottom-left corner, width, height."""

    x: float
    y: float
    width: float
    height: float

    @property
    def top(self) -> float:
        return self.y + self.height

    @property
    def right(self) -> float:
        return self.x + self.width

    def contains(self, other: Box, tolerance: float = 1e-6) -> bool:
        return (
            other.x >= self.x - tolerance
            and other.y >= self.y - tolerance
            and other.right <= self.right + tolerance
            and other.top <= self.top + tolerance
        )


@dataclass(frozen=True)
class Layout:
    name: str
    title: str
    aliases: tuple[str, ...]
    page_width: float
    page_height: float
    label_width: float
    label_height: float
    columns: int
    rows: int
    #: Distance of the first label's left edge from the page's left edge.
    left: float
    #: Distance of the first label's top edge from the page's top edge.
    top: float
    pitch_x: float
    pitch_y: float
    #: White margin inside each label around the QR code and the text.
    padding: float
    #: Preferred QR module size (mm); smaller only when the symbol would not fit.
    module: float
    thermal: bool = False

    @property
    def positions(self) -> int:
        return self.columns * self.rows

    @property
    def page(self) -> Box:
        return Box(0.0, 0.0, self.page_width, self.page_height)

    def label_box(self, position: int) -> Box:
        """The label at ``position`` (1-based, row by row from the top left)."""
        if not 1 <= position <= self.positions:
            raise StartPositionOutOfRange(
                f"position {position}: {self.name} has positions 1–{self.positions}"
            )
        row, column = divmod(position - 1, self.columns)
        x = self.left + column * self.pitch_x
        top = self.top + row * self.pitch_y
        return Box(x, self.page_height - top - self.label_height, self.label_width, self.label_height)

    def qr_area(self) -> float:
        """Side of the largest square for the QR code with its quiet zone."""
        return self.label_height - 2 * self.padding

    def module_size(self, modules_with_quiet_zone: int) -> float:
        """The module size (mm) for a symbol of that many modules, quiet zone included.

        The layout's preferred size, or less if the symbol would not fit — never
        below 0.5 mm: then the payload is too long for this label.
        """
        size = min(self.module, self.qr_area() / modules_with_quiet_zone)
        if size < MIN_MODULE_MM - 1e-9:
            raise InvalidInput(
                f"the QR code ({modules_with_quiet_zone} modules with its quiet zone) does not fit the "
                f"{self.title} at {MIN_MODULE_MM} mm a module: shorten the public base URL"
            )
        return size


def _sheet(
    name: str,
    title: str,
    aliases: tuple[str, ...],
    size: tuple[float, float],
    grid: tuple[int, int],
    margins: tuple[float, float],
    pitch: tuple[float, float],
    module: float,
    padding: float = 1.5,
) -> Layout:
    return Layout(
        name, title, aliases, A4[0], A4[1], size[0], size[1], grid[0], grid[1],
        margins[0], margins[1], pitch[0], pitch[1], padding, module,
    )  # fmt: skip


def _thermal(
    name: str, title: str, aliases: tuple[str, ...], size: tuple[float, float], module: float, padding: float
) -> Layout:
    w, h = size
    return Layout(name, title, aliases, w, h, w, h, 1, 1, 0.0, 0.0, w, h, padding, module, thermal=True)


LAYOUTS: tuple[Layout, ...] = (
    # Avery Zweckform 3474 and Herma 4464: 70 × 37 mm, 3 × 8, no side margin, 0.5 mm top margin.
    _sheet(
        "zweckform-3474", "Avery Zweckform 3474 / Herma 4464 (70 × 37 mm, 3 × 8)",
        ("3474", "avery-3474", "herma-4464", "4464"),
        (70.0, 37.0), (3, 8), (0.0, 0.5), (70.0, 37.0), module=13 * INCH / 600, padding=2.5,
    ),
    # Avery L7163: 99.1 × 38.1 mm, 2 × 7, side margin 4.7 mm, top margin 15.1 mm, pitch 101.6 × 38.1 mm.
    _sheet(
        "avery-l7163", "Avery L7163 (99.1 × 38.1 mm, 2 × 7)", ("l7163",),
        (99.1, 38.1), (2, 7), (4.7, 15.1), (101.6, 38.1), module=14 * INCH / 600,
    ),
    # Avery L7160: 63.5 × 38.1 mm, 3 × 7, side margin 7.2 mm, top margin 15.1 mm, pitch 66.0 × 38.1 mm.
    _sheet(
        "avery-l7160", "Avery L7160 (63.5 × 38.1 mm, 3 × 7)", ("l7160",),
        (63.5, 38.1), (3, 7), (7.2, 15.1), (66.0, 38.1), module=12 * INCH / 600,
    ),
    # Continuous/die-cut thermal labels, one label a page.
    _thermal(
        "thermal-62x29", "thermal label 62 × 29 mm", ("62x29", "dk-11209"), (62.0, 29.0),
        module=6 * INCH / 300, padding=0.0,
    ),
    _thermal(
        "thermal-4x2in", "thermal label 4 × 2 in (101.6 × 50.8 mm)", ("4x2in", "4x2"),
        (4 * INCH, 2 * INCH), module=6 * INCH / 203, padding=2.0,
    ),
)  # fmt: skip
DEFAULT_LAYOUT = "zweckform-3474"
DEFAULT_ZPL_LAYOUT = "thermal-4x2in"

_BY_NAME = {alias: layout for layout in LAYOUTS for alias in (layout.name, *layout.aliases)}


def layout_named(name: str) -> Layout:
    try:
        return _BY_NAME[name.strip().lower()]
    except KeyError:
        known = ", ".join(layout.name for layout in LAYOUTS)
        raise UnknownLayout(f"unknown label layout {name!r}: one of {known}") from None


def check_start(layout: Layout, start: int) -> None:
    if not 1 <= start <= layout.positions:
        where = "a single label" if layout.positions == 1 else f"{layout.positions} positions a sheet"
        raise StartPositionOutOfRange(
            f"start position {start} is not on the {layout.name} sheet ({where}: 1–{layout.positions})"
        )


def placements(layout: Layout, count: int, start: int = 1) -> list[tuple[int, Box]]:
    """(page number from 0, label box) of ``count`` labels from position ``start`` on."""
    check_start(layout, start)
    out = []
    for number in range(count):
        slot = start - 1 + number
        page, position = divmod(slot, layout.positions)
        out.append((page, layout.label_box(position + 1)))
    return out
