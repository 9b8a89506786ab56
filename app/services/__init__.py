"""Use cases. The CLI, the HTTP API and the pages call these and nothing below them.

Each function that changes the ledger does so in exactly one transaction
(through :meth:`app.logstore.LogStore.append`); time and randomness come in
through the :class:`~app.services.context.LedgerContext`.
"""
