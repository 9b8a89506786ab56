"""The edges of the Konnektor Custody Ledger: persistence, services, CLI, HTTP.

Dependency direction: ``app`` imports ``ledger`` (and ``labels``), never the
other way round. Services in :mod:`app.services` are the only place that
commits a transaction; the CLI and HTTP layers only translate.
"""
