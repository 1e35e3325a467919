"""The head of account management's reports, computed from the report facts
(``baton_followup.projections.report_facts``) for a period.

Every report is a list of flat rows (the same rows whether served as JSON or CSV) and
is computed from the three fact projections given, so the live tables and a
point-in-time copy (``baton reports … --as-of``) answer through the same code.
"""

from baton_followup.reports.figures import REPORTS, Facts, Period, Report, render_csv

__all__ = ["REPORTS", "Facts", "Period", "Report", "render_csv"]
