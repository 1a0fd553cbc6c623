"""Evaluation: metrics, label banning, logit adjustment, the paper's single-clip protocol."""
