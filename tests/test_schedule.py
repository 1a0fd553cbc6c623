"""One-cycle cosine and the growing accumulation schedule (paper §2.6)."""

from __future__ import annotations

import pytest
import torch

from ser_pipeline.training.schedule import AccumulationSchedule, one_cycle_cosine


def test_accumulation_factor_grows_on_schedule():
    s = AccumulationSchedule({0: 1, 2: 2, 4: 4})
    assert [s.factor(e) for e in range(7)] == [1, 1, 2, 2, 4, 4, 4]
    assert s.optimizer_steps(10, epochs=5) == 10 + 10 + 5 + 5 + 3  # 10/4 -> 3 (partial group steps)
    assert AccumulationSchedule().factor(9) == 1


@pytest.mark.parametrize("bad", [{1: 2}, {0: 0}, {0: 1, -1: 2}])
def test_accumulation_rejects_bad_schedules(bad):
    with pytest.raises(ValueError):
        AccumulationSchedule(bad)


def test_one_cycle_cosine_warms_up_then_anneals():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=1.0)
    sched = one_cycle_cosine(opt, max_lr=1e-3, total_steps=100, pct_start=0.1)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    peak = max(range(100), key=lambda i: lrs[i])
    assert lrs[0] == pytest.approx(1e-3 / 25) and 9 <= peak <= 11 and lrs[peak] == pytest.approx(1e-3, rel=1e-2)
    assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1:]))  # monotone cosine decay
    assert lrs[-1] < 1e-5
