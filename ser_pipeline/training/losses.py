"""Losses of paper §2.6: soft-label emotion cross entropy and the adversarial domain loss.

Both heads are one linear layer applied to every encoder frame (50 Hz). A packed window holds
several clips; clip k of the batch is ``spans[k] = (batch index, start frame, end frame)``.

Emotion (``emotion_mode``):
  - ``"clip"`` (default): CE between the clip's soft label and the mean of its frames' logits.
  - ``"frame"``: CE between each valid frame's logits and its clip's soft label, averaged over
    valid frames (padding is masked, never labelled).

Domain (``domain_mode``), CE_dom on span-mean domain logits, weight w_d = 0.01 (paper §2.6):
  - ``"grl"`` (default): gradient reversal (Ganin et al. 2016). The domain head minimises CE_dom;
    the encoder receives −w_d times CE_dom's gradient, so it learns to hide the domain.
  - ``"paper"``: the paper's literal total L = CE_emo − w_d·CE_dom. Here the domain head also
    ascends CE_dom, i.e. it is trained to be wrong, which is why GRL is the default.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ser_pipeline.model.emotion_model import span_mean_logits

__all__ = ["domain_adversarial_loss", "domain_loss_from_frame_logits", "emotion_loss", "frame_soft_cross_entropy",
           "grad_reverse", "soft_cross_entropy", "span_mean_logits"]

EmotionMode = Literal["clip", "frame"]
DomainMode = Literal["grl", "paper"]


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over rows of ``-Σ_c target_c · log_softmax(logits)_c``; logits, targets (K, C)."""
    return -(targets.float() * F.log_softmax(logits.float(), dim=-1)).sum(-1).mean()


def frame_soft_cross_entropy(frame_logits: torch.Tensor, frame_targets: torch.Tensor,
                             frame_mask: torch.Tensor) -> torch.Tensor:
    """Soft CE per valid frame, averaged over valid frames.

    Args:
        frame_logits: (B, T, C); frame_targets: (B, T, C); frame_mask: bool (B, T), True = clip frame.
    """
    ce = -(frame_targets.float() * F.log_softmax(frame_logits.float(), dim=-1)).sum(-1)  # (B, T)
    m = frame_mask.to(ce.dtype)
    return (ce * m).sum() / m.sum().clamp(min=1)


def emotion_loss(frame_logits: torch.Tensor, spans: torch.Tensor, clip_targets: torch.Tensor,
                 frame_targets: torch.Tensor | None = None, frame_mask: torch.Tensor | None = None,
                 mode: EmotionMode = "clip") -> torch.Tensor:
    """CE_emo in either mode (module docstring). clip_targets: (K, C) soft labels of the spans."""
    if mode == "clip":
        return soft_cross_entropy(span_mean_logits(frame_logits, spans), clip_targets)
    if mode == "frame":
        if frame_targets is None or frame_mask is None:
            raise ValueError("emotion mode 'frame' needs frame_targets and frame_mask")
        return frame_soft_cross_entropy(frame_logits, frame_targets, frame_mask)
    raise ValueError(f"emotion mode must be 'clip' or 'frame', found {mode!r}")


class GradReverse(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by ``-scale``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.scale * grad, None


def grad_reverse(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``x`` unchanged; gradients flowing back through it are multiplied by ``-scale``."""
    return GradReverse.apply(x, scale)


def domain_adversarial_loss(hidden: torch.Tensor, domain_head: nn.Module, spans: torch.Tensor,
                            domain_ids: torch.Tensor, w_d: float = 0.01,
                            mode: DomainMode = "grl") -> tuple[torch.Tensor, torch.Tensor]:
    """The domain term to add to CE_emo, and CE_dom itself (detached, for logging).

    Args:
        hidden: (B, T, D) encoder output.
        domain_head: per-frame Linear(D, n_domains).
        spans: int (K, 3) ``(batch, start, end)``; domain_ids: int (K,), -1 = unknown (ignored).
        w_d: domain weight (paper §2.6: 0.01).
        mode: "grl" (term = CE_dom through a gradient reversal of scale w_d) or "paper"
            (term = −w_d·CE_dom).

    Returns:
        (term, ce_dom): scalars; ``term`` carries the gradient, ``ce_dom`` does not.
    """
    if mode == "grl":
        feats = grad_reverse(hidden, w_d)
    elif mode == "paper":
        feats = hidden
    else:
        raise ValueError(f"domain mode must be 'grl' or 'paper', found {mode!r}")
    return domain_loss_from_frame_logits(domain_head(feats), spans, domain_ids, w_d, mode)


def domain_loss_from_frame_logits(domain_frame_logits: torch.Tensor, spans: torch.Tensor,
                                  domain_ids: torch.Tensor, w_d: float = 0.01,
                                  mode: DomainMode = "grl") -> tuple[torch.Tensor, torch.Tensor]:
    """As :func:`domain_adversarial_loss`, given the head's per-frame output (B, T, n_domains)
    (computed through :func:`grad_reverse` in "grl" mode, e.g. inside a DDP-wrapped forward)."""
    logits = span_mean_logits(domain_frame_logits, spans)  # (K, n_domains)
    keep = domain_ids >= 0
    if not bool(keep.any()):
        zero = logits.sum() * 0.0
        return zero, zero.detach()
    ce = F.cross_entropy(logits[keep], domain_ids[keep].long())
    term = ce if mode == "grl" else -w_d * ce
    return term, ce.detach()
