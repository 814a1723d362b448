"""Leaderboard reports from the MLflow store alone: ``python -m aebench.report``, or at the end of a sweep."""
from aebench.report.render import render_report

__all__ = ["render_report"]
