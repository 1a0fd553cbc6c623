"""``docs/labels.md``: the label decisions the project depends on, written from the code that
implements them (the class order, the prior, the common words, smoothing, the scored classes), so
the document cannot drift from what runs. Regenerate with ``ser labels --markdown``."""

from __future__ import annotations

import numpy as np

from ser_pipeline.emotions import CLASSES, COMMON_WORDS, RELEASED_PRIOR
from ser_pipeline.evaluation.metrics import EXPECTED_SCORED
from ser_pipeline.labels.intensity import intensity
from ser_pipeline.labels.smoothing import MAX_ALPHA, PRIMARY_MARGIN, neutral_smoothing
from ser_pipeline.labels.splits import IEMOCAP_TEST_SESSION


def _example() -> str:
    e = np.zeros((1, len(CLASSES)))
    e[0, CLASSES.index("happiness")] = 0.6
    rows = []
    for variant in ("neutral", "paper"):
        out = neutral_smoothing(e, intensity(e), 1.0, variant=variant)[0]
        cells = ", ".join(f"{c} {v:.4f}" for c, v in zip(CLASSES, out, strict=True) if v > 0)
        rows.append(f"- `{variant}`: {cells}")
    return "\n".join(rows)


def _common_words() -> str:
    groups: dict[str, list[str]] = {}
    for word, row in COMMON_WORDS.items():
        groups.setdefault(", ".join(f"{c} {w:g}" for c, w in row.items()), []).append(word)
    return "\n".join(f"| {', '.join(words)} | {target} |" for target, words in groups.items())


def labels_markdown() -> str:
    """The whole of ``docs/labels.md``."""
    classes = "\n".join(f"| {i} | {c} | {p:.8f} |" for i, (c, p) in enumerate(zip(CLASSES, RELEASED_PRIOR,
                                                                                    strict=True)))
    scored = "\n".join(f"| {name} | {', '.join(cs)} |" for name, cs in EXPECTED_SCORED.items())
    return f"""# Labels: the 8 classes and every decision the paper leaves open

Generated from the code (`ser labels --markdown > docs/labels.md`; a test keeps it fresh).
Per-corpus label maps and layouts are in [corpora.md](corpora.md).

## The 8 classes, in the released checkpoints' order

The order is part of the model's interface: the head's outputs, every table's score columns, the
export's `labels` and the timeline's columns all use it. The third column is the released
checkpoints' training prior, used for logit adjustment when no training table is at hand.

| index | class | released prior |
|---|---|---|
{classes}

## Raw scores, intensity, soft label

- Every utterance gets a **raw score vector** e in [0, 1]^8 before any normalisation.
  - One acted label: e is that label's weight row (below; e.g. contempt gives disgust 0.5).
  - Rater votes: e is the mean over raters of each rater's weight row; a rater who names k
    categories gives each 1/k of the vote.
  - Acted or rated intensities (CMU-MOSEI 0-3, RAVDESS normal/strong, OGVC 0-3, ASVP normal/high):
    the category's weight times the normalised intensity (MOSEI value/3, RAVDESS 0.5/1.0, OGVC n/3,
    ASVP 0.5/1.0).
  - A vector with no mass at all (MOSEI all zeros, OGVC intensity 0) means no perceived emotion:
    neutral 1. A manifest row whose eight scores are all zero is rejected (`no_score_mass`).
- **Intensity** E_i is the sum of e over the 7 non-neutral classes. Neutral is left out: with it,
  every vote-based corpus would have E_i = 1.
- **Ē** is the mean E_i of the corpus (paper §2.2: per dataset).
- **Neutral smoothing** (§2.2) for E_i < Ē: α = min(|Ē − E_i| / Ē, {MAX_ALPHA}). Two variants, same α:
  - `neutral` (default): e' = (1 − α)·e + α·onehot(neutral).
  - `paper`: the formula as printed, e'_j = e_j(1 − α) + (1 − e_j)·α/8.
  In both, when neutral then exceeds the largest non-neutral score of a sample whose primary emotion
  was not neutral, neutral is capped to that score minus {PRIMARY_MARGIN:g} ("the primary emotion is
  retained"). Rows are then normalised to sum to 1. Samples with E_i ≥ Ē, and corpora with Ē = 0,
  are only normalised.
- The **hard label** of an utterance (for metrics) is the argmax of its soft label.

Worked example, e = (happiness 0.6, the rest 0) with Ē = 1, so α = 0.4:

{_example()}

## Common words (source label, lower case → weight row)

Every corpus and the user manifest map these words the same way; a corpus's own words are in its
section of [corpora.md](corpora.md).

| words | weight row |
|---|---|
{_common_words()}

## Domains, splits, evaluation sets

- Domain key: `corpus|speaker|language`; an unknown speaker becomes `corpus|unknown|language`. The
  domain vocabulary is the sorted set of training domains, so ids are stable.
- Training corpora: every corpus whose role is `train`. IEMOCAP {IEMOCAP_TEST_SESSION} is the test set
  and never enters training or validation; the zero-shot corpora never enter training.
- Validation: 5 % of the rest, random by utterance (as in the paper) with a seed; `by: speaker` gives
  a speaker-disjoint split.
- Training class prior: the mean soft label over the training split, used for logit adjustment
  (τ = 1).
- Classes each Table 2 set is scored on; the others are banned (logit −1e27). A set Table 2 does not
  name is scored on the classes present in it.

| set | scored classes |
|---|---|
{scored}
"""
