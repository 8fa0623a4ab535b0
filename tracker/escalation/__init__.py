"""Escalation (催办 / 督办 / 通报): the overdue sweep, the office's actions, circulars."""
