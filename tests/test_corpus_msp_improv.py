"""MSP-IMPROV: Evaluation.txt rater votes, copied rater rows dropped, consensus fallback."""

import shutil

import pytest

from ser_pipeline.corpora import read_corpus


def test_msp_improv_generated_layout(corpus_factory):
    m, r = read_corpus("msp_improv", corpus_factory("msp_improv", speakers=4, per_class=2))
    assert len(m) == 2 * 2 * 4 * 2 and r.empty  # sessions × actors × target emotions × sentences
    assert (m.n_raters == 5).all()  # the copied sixth row is dropped
    assert m.official_split.value_counts().to_dict() == {"session1": 16, "session2": 16}
    assert set(m.gender) == {"F", "M"}
    assert hard_counts(m) == {'happiness': 9, 'sadness': 9, 'anger': 7, 'neutral': 7}
    assert set(m.language) == {'en'}


def test_msp_improv_hand_computed_and_rejects(corpus_factory, tmp_path):
    root = tmp_path / "mspi"
    shutil.copytree(corpus_factory("msp_improv", speakers=4, per_class=2), root)
    src = next(root.rglob("*.wav"))
    d = root / "session3" / "S01A" / "P"
    d.mkdir(parents=True)
    shutil.copy(src, d / "MSP-IMPROV-S01A-F03-P-FM03.wav")
    shutil.copy(src, d / "MSP-IMPROV-S02A-F03-P-FM03.wav")
    shutil.copy(src, d / "MSP-IMPROV-S03A-F03-P-FM03.wav")
    with (root / "Evaluation.txt").open("a") as f:
        f.write("UTD-IMPROV-S01A-F03-P-FM03.avi; A; A:4.0; V:2.0; D:3.5 ; N:4.0;\n"
                "r1; Angry; Frustrated; A:4; V:2; D:3; N:4;\nr2; Angry; ; A:4; V:2; D:3; N:4;\n"
                "r3; Neutral; ; A:3; V:3; D:3; N:4;\nr3; Neutral; ; A:3; V:3; D:3; N:4;\n"
                "r4; Other; bored; A:3; V:3; D:3; N:4;\n\n"
                "UTD-IMPROV-S02A-F03-P-FM03.avi; H; A:3.0; V:4.0; D:3.0 ; N:4.0;\n\n"
                "UTD-IMPROV-S03A-F03-P-FM03.avi; X; A:3.0; V:4.0; D:3.0 ; N:4.0;\n\n"
                "UTD-IMPROV-S04A-F03-P-FM03.avi; A; A:3.0; V:4.0; D:3.0 ; N:4.0;\nr1; Angry; ; A:4; V:2; D:3; N:4;\n\n"
                "UTD-IMPROV-garbage; A;\n")
    m, r = read_corpus("msp_improv", root)
    rows = m.set_index("path")
    # raters Angry, Angry, Neutral (its copy dropped), Other -> anger 2/4, neutral 1/4, other 1/4
    v = rows.loc["session3/S01A/P/MSP-IMPROV-S01A-F03-P-FM03.wav"]
    assert v.anger == 0.5 and v.neutral == 0.25 and v.other == 0.25 and v.n_raters == 4
    assert v.official_split == "session3" and v.speaker == "msp_improv/F03"
    c = rows.loc["session3/S01A/P/MSP-IMPROV-S02A-F03-P-FM03.wav"]
    assert c.happiness == 1.0 and pd_na(c.n_raters)  # no rater lines: consensus H
    reasons = dict(zip(r.path, r.reason))
    assert reasons["session3/S01A/P/MSP-IMPROV-S03A-F03-P-FM03.wav"] == "no_agreement"
    assert reasons["MSP-IMPROV-S04A-F03-P-FM03.wav"] == "audio_missing"
    assert reasons["Evaluation.txt"] == "malformed_annotation"


def pd_na(x) -> bool:
    import pandas as pd

    return pd.isna(x)


def hard_counts(m):
    """Per-class counts of the hard label (argmax of the 8 raw scores); the generator is deterministic."""
    import numpy as np

    from ser_pipeline.emotions import CLASSES

    c = np.bincount(m[list(CLASSES)].to_numpy().argmax(1), minlength=8)
    return {CLASSES[i]: int(v) for i, v in enumerate(c) if v}
