"""The public report (向社会公开): `tracker publish YEAR` writes a self-contained static
site and the same tables as .xlsx and .csv, from the year's issued scorecard
(`tables.public_report`, `site.publish`)."""

from tracker.annual.publish.site import PublishResult, default_out, publish
from tracker.annual.publish.tables import NotIssued, PublicReport, public_report

__all__ = ["publish", "default_out", "PublishResult", "public_report", "PublicReport",
           "NotIssued"]
