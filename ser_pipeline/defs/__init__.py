"""Dagster only: assets, resources, IO manager, checks, jobs, schedules, sensors, MLflow logging.

This package wires the science core into Dagster; the core never imports from here.
"""
