"""What the training loop runs (and DDP wraps): the emotion model plus its adversarial domain head."""

from __future__ import annotations

import torch
from torch import nn

from ser_pipeline.model.emotion_model import EmotionModel
from ser_pipeline.training.losses import grad_reverse


class TrainingModel(nn.Module):
    """Emotion logits and domain logits per frame.

    The domain head sees the encoder output through a gradient reversal of scale ``w_d`` in
    "grl" mode (paper §2.6; see :mod:`ser_pipeline.training.losses`), directly in "paper" mode.
    Keeping both heads inside one ``forward`` lets DDP see every parameter's use.
    """

    def __init__(self, model: EmotionModel, domain_mode: str = "grl", w_d: float = 0.01):
        super().__init__()
        self.model, self.domain_mode, self.w_d = model, domain_mode, w_d

    def forward(self, input_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, n_mels, 2·T) -> (emotion logits (B, T, 8), domain logits (B, T, n_domains) or None)."""
        logits, hidden = self.model(input_features)
        head = self.model.domain_head
        if head is None or self.domain_mode == "off":
            return logits, None
        feats = grad_reverse(hidden, self.w_d) if self.domain_mode == "grl" else hidden
        return logits, head(feats)
