"""What a seal label and a delivery note show: plain values, filled in by the application."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.custody.ids import format_seal_id


@dataclass(frozen=True)
class SealLabel:
    """One seal label.

    ``payload`` is the signed QR text (:mod:`labels.payload`); the rest is
    printed for people: the seal id, the connector it is on (once applied),
    who issued the seal and when, and a short hash — index and first eight
    hex digits of the leaf hash of the ``seal.issued`` entry — that finds the
    entry in the ledger.
    """

    seal_id: str
    payload: str
    issued_by: str
    issued_to: str | None
    issued_on: str  # YYYY-MM-DD
    entry_index: int
    entry_hash: str  # hex leaf hash (at least 8 digits)
    connector: str | None = None  # "VENDOR SERIAL"

    @property
    def display_id(self) -> str:
        """``KC 000 0001 3``: groups for reading aloud, the check character set apart."""
        return format_seal_id(self.seal_id)

    @property
    def short_hash(self) -> str:
        return f"#{self.entry_index} {self.entry_hash[:8]}"

    def lines(self) -> list[tuple[str, ...]]:
        """The detail lines under the seal id, German first; each with shorter alternatives
        (most complete first) for narrow labels — the connector's serial number is kept longest."""
        lines: list[tuple[str, ...]] = []
        if self.connector:
            vendor, _, serial = self.connector.partition(" ")
            serial = serial or vendor
            lines.append(
                (
                    f"Konnektor/Connector {self.connector}",
                    f"Konnektor {self.connector}",
                    f"Konnektor {serial}",
                    serial,
                )
            )
        lines.append((f"Ausgabe/Issued by {self.issued_by}", f"Ausgabe {self.issued_by}"))
        if self.issued_to:
            lines.append((f"an/to {self.issued_to}",))
        lines.append((f"{self.issued_on} · {self.short_hash}",))
        return lines


@dataclass(frozen=True)
class NoteParty:
    """A party or place on a delivery note: id, name, address lines."""

    ident: str
    name: str | None = None
    address: tuple[str, ...] = ()


@dataclass(frozen=True)
class NoteItem:
    """One connector on a delivery note."""

    vendor: str
    serial: str
    product: str | None
    seals: tuple[str, ...]
    state: str


@dataclass(frozen=True)
class DeliveryNote:
    shipment: str
    kind: str  # "shipped" or "returned.shipped"
    shipped_on: str  # YYYY-MM-DD
    releasing: NoteParty
    receiving: NoteParty
    destination: NoteParty
    origin: NoteParty | None
    items: tuple[NoteItem, ...]
    handover_url: str
    ledger: str  # the log origin
    entries: tuple[int, ...]  # indexes of the shipped entries

    @property
    def is_return(self) -> bool:
        return self.kind == "returned.shipped"
