"""Losses (paper §2.6): span means, soft CE in both modes, the GRL sign and scale."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ser_pipeline.training.losses import (domain_adversarial_loss, emotion_loss, frame_soft_cross_entropy,
                                          grad_reverse, soft_cross_entropy, span_mean_logits)


def test_span_mean_equals_loop():
    x = torch.randn(2, 50, 8)
    spans = torch.tensor([[0, 0, 10], [0, 10, 13], [1, 5, 50], [1, 0, 1]])
    want = torch.stack([x[b, s:e].mean(0) for b, s, e in spans.tolist()])
    assert torch.allclose(span_mean_logits(x, spans), want, atol=1e-5)


def test_soft_ce_matches_hard_ce_on_one_hot():
    logits = torch.randn(5, 8)
    y = torch.tensor([0, 3, 7, 2, 2])
    assert torch.allclose(soft_cross_entropy(logits, F.one_hot(y, 8).float()), F.cross_entropy(logits, y))


def test_frame_ce_ignores_padding():
    logits = torch.randn(1, 6, 8)
    targets = torch.softmax(torch.randn(1, 6, 8), -1)
    mask = torch.tensor([[True, True, True, False, False, False]])
    a = frame_soft_cross_entropy(logits, targets, mask)
    logits2 = logits.clone()
    logits2[0, 3:] = 100.0  # padding frames must not matter
    assert torch.allclose(a, frame_soft_cross_entropy(logits2, targets, mask))
    assert torch.allclose(a, soft_cross_entropy(logits[0, :3], targets[0, :3]))


def test_emotion_modes_and_bad_mode():
    logits = torch.randn(1, 10, 8)
    spans = torch.tensor([[0, 0, 4], [0, 4, 10]])
    t = torch.softmax(torch.randn(2, 8), -1)
    ft = torch.zeros(1, 10, 8)
    ft[0, :4], ft[0, 4:] = t[0], t[1]
    mask = torch.ones(1, 10, dtype=torch.bool)
    # clip mode: CE of each span's mean logits against its soft target, averaged over the 2 spans
    by_hand = -(t * torch.log_softmax(torch.stack([logits[0, :4].mean(0), logits[0, 4:].mean(0)]), -1)).sum(-1).mean()
    assert torch.allclose(emotion_loss(logits, spans, t, mode="clip"), by_hand, atol=1e-6)
    assert torch.allclose(emotion_loss(logits, spans, t, ft, mask, mode="frame"),
                          frame_soft_cross_entropy(logits, ft, mask))
    with pytest.raises(ValueError, match="emotion mode"):
        emotion_loss(logits, spans, t, mode="pixel")


def test_grad_reverse_is_identity_forward_negative_scaled_backward():
    x = torch.randn(4, requires_grad=True)
    y = grad_reverse(x, 0.25)
    assert torch.equal(y, x)
    y.sum().backward()
    assert torch.allclose(x.grad, torch.full((4,), -0.25))


def _domain_setup():
    torch.manual_seed(0)
    hidden = torch.randn(2, 12, 6, requires_grad=True)
    head = torch.nn.Linear(6, 3)
    spans = torch.tensor([[0, 0, 5], [0, 5, 12], [1, 0, 12]])
    dom = torch.tensor([2, 0, 1])
    return hidden, head, spans, dom


def _plain_grads():
    hidden, head, spans, dom = _domain_setup()
    ce = F.cross_entropy(span_mean_logits(head(hidden), spans), dom)
    ce.backward()
    return hidden.grad.clone(), head.weight.grad.clone(), float(ce.detach())


def test_grl_head_minimises_encoder_gets_minus_wd_gradient():
    g_hidden, g_head, ce_value = _plain_grads()
    hidden, head, spans, dom = _domain_setup()
    term, ce = domain_adversarial_loss(hidden, head, spans, dom, w_d=0.01, mode="grl")
    assert float(ce) == pytest.approx(ce_value)
    term.backward()
    assert torch.allclose(head.weight.grad, g_head, atol=1e-6)  # head: + full gradient of CE_dom
    assert torch.allclose(hidden.grad, -0.01 * g_hidden, atol=1e-8)  # encoder: reversed, scaled by w_d


def test_paper_mode_is_literal_minus_wd_ce():
    g_hidden, g_head, ce_value = _plain_grads()
    hidden, head, spans, dom = _domain_setup()
    term, _ = domain_adversarial_loss(hidden, head, spans, dom, w_d=0.01, mode="paper")
    assert float(term) == pytest.approx(-0.01 * ce_value)
    term.backward()
    assert torch.allclose(head.weight.grad, -0.01 * g_head, atol=1e-8)
    assert torch.allclose(hidden.grad, -0.01 * g_hidden, atol=1e-8)


def test_unknown_domains_are_ignored():
    hidden, head, spans, _ = _domain_setup()
    term, ce = domain_adversarial_loss(hidden, head, spans, torch.tensor([-1, -1, -1]))
    assert float(term) == 0.0 and float(ce) == 0.0
