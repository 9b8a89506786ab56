"""Who and what the demo ledger is about: parties, vendors, practices (all fictitious).

Party ids and names that enter the log are organisations or pseudonymous
labels; a practice's clear name, BSNR and Telematik-ID live only in the
erasable master data (``app.services.practices``), the log sees its digest.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ledger.keys import Algorithm

ED = Algorithm.ED25519
P256 = Algorithm.ECDSA_P256_SHA256
BP256 = Algorithm.ECDSA_BP256R1_SHA256

MANUFACTURER_ID = "MFR-01"
AUDITOR_ID = "AUDIT-01"
WAREHOUSES = ("WH-ESSEN-01", "WH-KASSEL-01")
#: Each warehouse's courier for local deliveries; MFR → warehouse line haul uses the first.
COURIER = {"WH-ESSEN-01": "CR-SECURA-01", "WH-KASSEL-01": "CR-TRANSIT-02"}
LINE_HAUL = "CR-SECURA-01"
RETURNS_CARRIER = "CR-TRANSIT-02"
TECHNICIANS = ("TECH-01", "TECH-02", "TECH-03", "TECH-04", "TECH-05")
#: A technician's regional warehouse.
TECH_WAREHOUSE = {
    "TECH-01": "WH-ESSEN-01",
    "TECH-02": "WH-ESSEN-01",
    "TECH-03": "WH-ESSEN-01",
    "TECH-04": "WH-KASSEL-01",
    "TECH-05": "WH-KASSEL-01",
}
#: Works offline at the practices and syncs in the evening.
OFFLINE_TECHNICIAN = "TECH-04"
PRACTICE_COUNT = 30

# Locations (the ``location:`` subjects of the demo).
PLANT = "MFR-01"
SECURE_ROOM = "MFR-01-SECURE"
FINISHED_GOODS = "MFR-01-FG"
RMA = "MFR-01-RMA"
EVIDENCE = "MFR-01-EVIDENCE"


def quarantine_area(warehouse: str) -> str:
    return f"{warehouse}-QS"


def service_base(technician: str) -> str:
    return f"{technician}-BASE"


@dataclass(frozen=True)
class Member:
    party_id: str
    name: str
    role: str
    algorithm: Algorithm


#: Everyone but the administrator (created by ``init``) and the practices.
CAST: tuple[Member, ...] = (
    Member(MANUFACTURER_ID, "Konnektor-Fertigung Süd GmbH (Demo)", "manufacturer", BP256),
    Member("WH-ESSEN-01", "TI-Logistikzentrum Essen (Demo)", "warehouse", P256),
    Member("WH-KASSEL-01", "TI-Logistikzentrum Kassel (Demo)", "warehouse", ED),
    Member("CR-SECURA-01", "Secura Werttransporte (Demo)", "carrier", ED),
    Member("CR-TRANSIT-02", "TI-Transit Kurierdienst (Demo)", "carrier", P256),
    Member("TECH-01", "Servicetechnik Region Essen, Kennung T01", "technician", P256),
    Member("TECH-02", "Servicetechnik Region Dortmund, Kennung T02", "technician", ED),
    Member("TECH-03", "Servicetechnik Region Düsseldorf, Kennung T03", "technician", BP256),
    Member("TECH-04", "Servicetechnik Region Kassel, Kennung T04", "technician", P256),
    Member("TECH-05", "Servicetechnik Region Göttingen, Kennung T05", "technician", ED),
    Member(AUDITOR_ID, "Revision und Prüfstelle (Demo)", "auditor", BP256),
)


@dataclass(frozen=True)
class Vendor:
    code: str
    product_code: str
    hw_version: str
    #: Firmware at production in 2022, after the 2024 update, at production in 2026.
    fw_2022: str
    fw_2024: str
    fw_2026: str
    certification_id: str
    weight: int

    def serial(self, generation: str, number: int) -> str:
        year = "22" if generation == "old" else "26"
        if self.code == "SECUNET":
            return f"{year}{number:08d}"
        if self.code == "CGM":
            return f"KCB{year}{number:07d}"
        return f"RK{year}-{number:06d}"


VENDORS: tuple[Vendor, ...] = (
    Vendor(
        "SECUNET", "secunet konnektor 2.1.0", "2.0.0", "4.10.5", "5.1.2", "5.50.3", "BSI-DSZ-CC-1140-V2", 40
    ),
    Vendor("CGM", "KoCoBox MED+ 2.3", "1.4.0", "3.7.4", "4.2.3", "5.1.8", "BSI-DSZ-CC-1111-V3", 35),
    Vendor("RISE", "RISE Konnektor V2.1", "2.0.1", "4.5.3", "4.9.1", "5.3.2", "BSI-DSZ-CC-1128-V2", 25),
)


@dataclass(frozen=True)
class Practice:
    practice_id: str
    name: str
    bsnr: str
    telematik_id: str
    address: str
    technician: str
    #: Registers its connectors in the TI itself (else the technician does).
    self_service: bool
    #: The party signs as a pseudonym only; the same id names its location.
    algorithm: Algorithm

    @property
    def location(self) -> str:
        return self.practice_id


# Region of each technician: city, postcode base, KV area (first two BSNR digits), streets, quarters.
_REGIONS: dict[str, tuple[str, int, str, tuple[str, ...], tuple[str, ...]]] = {
    "TECH-01": (
        "Essen", 45127, "38",
        ("Rüttenscheider Str.", "Kettwiger Str.", "Steeler Str.", "Frohnhauser Str."),
        ("am Rüttenscheider Stern", "am Kettwiger Tor", "Steele", "Borbeck", "Frohnhausen", "Kray"),
    ),
    "TECH-02": (
        "Dortmund", 44135, "20",
        ("Hansastraße", "Kaiserstraße", "Hohe Straße", "Westfalendamm"),
        ("am Westpark", "Hörde", "am Phoenix-See", "Aplerbeck", "Kaiserviertel", "Hombruch"),
    ),
    "TECH-03": (
        "Düsseldorf", 40210, "38",
        ("Königsallee", "Nordstraße", "Lorettostraße", "Kölner Str."),
        ("an der Kö", "Pempelfort", "Unterbilk", "Oberkassel", "Flingern", "Bilk"),
    ),
    "TECH-04": (
        "Kassel", 34117, "46",
        ("Friedrich-Ebert-Str.", "Wilhelmshöher Allee", "Frankfurter Str.", "Holländische Str."),
        ("am Königsplatz", "Wilhelmshöhe", "Kirchditmold", "Vorderer Westen", "Wehlheiden", "Bettenhausen"),
    ),
    "TECH-05": (
        "Göttingen", 37073, "17",
        ("Weender Str.", "Groner Landstr.", "Kurze-Geismar-Str.", "Hannoversche Str."),
        ("am Gänseliesel", "Weende", "Grone", "Geismar", "Nikolausberg", "Holtenser Berg"),
    ),
}  # fmt: skip
_KINDS = (
    ("Hausarztpraxis", "1"), ("Gemeinschaftspraxis Allgemeinmedizin", "1"), ("Internistische Praxis", "1"),
    ("Kinder- und Jugendarztpraxis", "1"), ("Frauenarztpraxis", "1"), ("Orthopädische Praxis", "1"),
    ("HNO-Praxis", "1"), ("Augenarztpraxis", "1"), ("Hautarztpraxis", "1"), ("MVZ", "1"),
    ("Psychotherapeutische Praxis", "1"), ("Zahnarztpraxis", "2"), ("Kieferorthopädische Praxis", "2"),
)  # fmt: skip


def practices(rng: random.Random) -> list[Practice]:
    """Thirty fictitious practices, six per technician's region, with valid-looking identifiers."""
    out: list[Practice] = []
    used_bsnr: set[str] = set()
    quarter_index = dict.fromkeys(TECHNICIANS, 0)
    for number in range(1, PRACTICE_COUNT + 1):
        technician = TECHNICIANS[(number - 1) % len(TECHNICIANS)]
        city, postcode, kv, streets, quarters = _REGIONS[technician]
        kind, telematik_prefix = rng.choice(_KINDS)
        quarter = quarters[quarter_index[technician] % len(quarters)]
        quarter_index[technician] += 1
        while True:
            bsnr = f"{kv}{rng.randrange(10**7):07d}"
            if bsnr not in used_bsnr:
                used_bsnr.add(bsnr)
                break
        if telematik_prefix == "1":
            telematik_id = f"1-2{bsnr}{rng.randrange(100):02d}"
        else:
            telematik_id = f"2-{kv}{rng.randrange(10**6):06d}"
        address = f"{rng.choice(streets)} {rng.randrange(1, 180)}, {postcode + rng.randrange(0, 60)} {city}"
        out.append(
            Practice(
                practice_id=f"PX-{number:03d}",
                name=f"{kind} {quarter}",
                bsnr=bsnr,
                telematik_id=telematik_id,
                address=address,
                technician=technician,
                self_service=number % 3 == 0,
                algorithm=P256 if number % 4 == 0 else ED,
            )
        )
    return out
