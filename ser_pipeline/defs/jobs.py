"""Jobs: prepare the data, train and evaluate, or both."""


import dagster as dg

prepare_data = dg.define_asset_job(
    "prepare_data", selection=dg.AssetSelection.groups("corpora", "labels"),
    description="Read every corpus, compute intensities, smooth labels and split.")
train_and_evaluate = dg.define_asset_job(
    "train_and_evaluate", selection=dg.AssetSelection.groups("training", "evaluation"),
    description="Train the emotion model on the current splits and evaluate it on every set.")
full_pipeline = dg.define_asset_job(
    "full_pipeline", selection=dg.AssetSelection.all() - dg.AssetSelection.groups("experiments"),
    description="Everything: corpora -> labels -> splits -> training -> evaluation.")

observe_corpora = dg.define_asset_job(
    "observe_corpora", selection=dg.AssetSelection.groups("raw", include_sources=True),
    description="Fingerprint every corpus folder (the data versions automation reacts to).")

JOBS = [prepare_data, train_and_evaluate, full_pipeline, observe_corpora]
