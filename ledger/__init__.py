"""The pure core of the Konnektor Custody Ledger.

Formats, canonical JSON, signatures, the Merkle log, checkpoints, trust and
custody rules, verification. No I/O and no frameworks: only the standard
library, ``cryptography`` and ``rfc8785`` (a test enforces this).
"""

from ledger import custody as _custody  # noqa: F401  (registers the custody kinds)
from ledger import trust as _trust  # noqa: F401  (registers the trust kinds)

__version__ = "0.1.0"
