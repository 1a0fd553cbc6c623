"""KeySet: a set of strings that moves its keys to disk past ``memory_keys``, same answers."""

import pytest

from ser_pipeline.corpora.keyset import KeySet


def test_answers_like_a_set_across_spills():
    keys = [f"corpus/spk{i % 7}/utt{i:04d}" for i in range(50)]
    with KeySet(memory_keys=8) as ks:
        assert [ks.add(k) for k in keys[:20]] == [True] * 20
        # 20 keys with a cap of 8: two spills of 8 went to disk, 4 are still in memory
        assert ks.spilled == 16 and len(ks) == 20
        assert [ks.add(k) for k in keys[:20]] == [False] * 20  # every key found, on disk or not
        assert all(k in ks for k in keys[:20]) and not any(k in ks for k in keys[20:])
        ks.update(keys)
        assert len(ks) == 50 and ks.spilled == 48
        assert "corpus/spk0/utt0000" in ks and "corpus/spk0/utt9999" not in ks
    assert len(ks) == 0 and "corpus/spk0/utt0000" not in ks  # closed: forgotten


def test_below_the_cap_nothing_goes_to_disk():
    ks = KeySet(memory_keys=100)
    ks.update(str(i) for i in range(99))
    assert ks.spilled == 0 and ks._db is None and len(ks) == 99
    ks.insert("99")  # the 100th key fills memory: all move to disk
    assert ks.spilled == 100 and "0" in ks and "99" in ks


def test_cap_must_be_positive():
    with pytest.raises(ValueError, match="memory_keys"):
        KeySet(memory_keys=0)
