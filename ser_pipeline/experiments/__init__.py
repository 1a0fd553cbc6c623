"""Experiments the paper did not run (issue 19): ablations, leave-one-corpus-out, few-shot.

Plain Python over the core (no Dagster, no MLflow): :mod:`variants` says how each ablation
variant changes the labels and the training config, :mod:`few_shot` picks k-shot sets,
:mod:`runs` trains and scores one run, :mod:`stats` gives bootstrap intervals and seed means,
:mod:`study` turns many runs into tables and plots. ``ser_pipeline.defs.experiments`` fans the
runs out as Dagster partitions and records each in MLflow.
"""
