"""Auditor report rendering (PDF): the chain-of-custody report and the seal reconciliation.

Rendering only: the data comes from :mod:`app.services.reports` and
:mod:`app.services.reconciliation`; nothing here reads the database.
"""

from app.reports.custody_report import CustodyReport, custody_report_pdf
from app.reports.seal_reconciliation import seal_reconciliation_pdf

__all__ = ["CustodyReport", "custody_report_pdf", "seal_reconciliation_pdf"]
