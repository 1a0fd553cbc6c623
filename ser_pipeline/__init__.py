"""ser_pipeline: soft-labelled multi-corpus speech emotion recognition (Whisper encoder + Dagster).

The science core (everything except ``defs/`` and ``definitions.py``) is plain Python, numpy,
pandas and torch, and never imports dagster or mlflow.
"""

__version__ = "0.1.0"
