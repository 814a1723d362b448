"""Tracking in MLflow: the store and its Lightning logger, runs and their end states, artifacts."""
from aebench.tracking.artifacts import log_code_map, save_image_grid
from aebench.tracking.datasets import log_dataset_inputs
from aebench.tracking.runs import KIND, counted_runs, end_failed, open_store, search_all, tracked
from aebench.tracking.store import RunLogger, TrackingStore, check_tracking_uri, runs_page, ui_command

__all__ = ["KIND", "RunLogger", "TrackingStore", "check_tracking_uri", "counted_runs", "end_failed", "log_code_map", "log_dataset_inputs",
           "open_store", "runs_page", "save_image_grid", "search_all", "tracked", "ui_command"]
