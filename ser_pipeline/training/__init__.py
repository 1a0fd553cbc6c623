"""Training: model (Whisper encoder + heads), data, losses, loop, export.

Runs with or without Dagster: ``python -m ser_pipeline.training --config FILE`` (and under
``torchrun``); the Dagster asset launches that same entry point.
"""
