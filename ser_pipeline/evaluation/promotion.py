"""Which registered model version is the champion: the rule, on plain numbers.

A new version becomes ``champion`` only when it is at least as good as the current champion on
validation micro F1 and on the mean zero-shot macro F1 (EmoDB, AESDD, URDU, MASC: the mean over
the sets both versions were scored on); otherwise it is the ``challenger``. The first version is
the champion. Plain Python: the registry side (MLflow aliases and tags) lives in ``defs/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

ZERO_SHOT_SETS = ("emodb", "aesdd", "urdu", "masc")
VALIDATION = "validation/micro_f1"
CHAMPION, CHALLENGER = "champion", "challenger"


def zero_shot_key(name: str) -> str:
    return f"{name}/macro_f1"


def comparison_metrics(report: Mapping[str, Mapping]) -> dict[str, float]:
    """The metrics the rule compares, from evaluation results per set (``{set: {"micro_f1",
    "macro_f1", ...}}``, fractions 0..1): ``validation/micro_f1`` and ``<set>/macro_f1`` of each
    zero-shot set present. Absent sets are left out."""
    out = {}
    if "validation" in report:
        out[VALIDATION] = float(report["validation"]["micro_f1"])
    for name in ZERO_SHOT_SETS:
        if name in report:
            out[zero_shot_key(name)] = float(report[name]["macro_f1"])
    return out


@dataclass(frozen=True)
class Decision:
    alias: str  # champion | challenger
    reason: str  # one line: what was compared, with the numbers


def decide(new: Mapping[str, float], champion: Mapping[str, float] | None) -> Decision:
    """Champion or challenger for a version with metrics ``new`` (see :func:`comparison_metrics`)
    against the current champion's (None: there is none).

    Criteria: validation micro F1 (when both have it) and the mean zero-shot macro F1 over the sets
    both have. A version that cannot be compared on any criterion never displaces a champion.
    """
    if champion is None:
        return Decision(CHAMPION, "first version: no champion yet")
    compared = []
    if VALIDATION in new and VALIDATION in champion:
        compared.append(("validation micro F1", new[VALIDATION], champion[VALIDATION]))
    elif VALIDATION in champion:
        return Decision(CHALLENGER, "no validation micro F1 to compare with the champion's")
    common = [n for n in ZERO_SHOT_SETS if zero_shot_key(n) in new and zero_shot_key(n) in champion]
    if common:
        def mean(m: Mapping[str, float]) -> float:
            return sum(m[zero_shot_key(n)] for n in common) / len(common)

        compared.append((f"mean zero-shot macro F1 ({', '.join(common)})", mean(new), mean(champion)))
    if not compared:
        return Decision(CHALLENGER, "no metric in common with the champion")
    text = "; ".join(f"{what} {a:.4f} vs champion {b:.4f}" for what, a, b in compared)
    if all(a >= b for _, a, b in compared):
        return Decision(CHAMPION, f"at least as good: {text}")
    return Decision(CHALLENGER, f"worse: {text}")
