"""The custody domain: connectors, seals, incidents and the twelve guard rules (DESIGN §5).

Importing this package registers every custody statement kind.
"""

from ledger.custody import connector as _connector  # noqa: F401
from ledger.custody import incidents as _incidents  # noqa: F401
from ledger.custody import seals as _seals  # noqa: F401
