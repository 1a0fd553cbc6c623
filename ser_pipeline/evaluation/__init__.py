"""Evaluation: metrics (micro/macro F1, UAR, per-class F1, Pearson/Spearman), label banning, logit
adjustment, the paper's single-clip protocol, the Table 2 report and the temporal-shift suite."""
