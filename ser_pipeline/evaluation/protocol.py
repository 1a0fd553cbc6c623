"""The paper's evaluation protocol (§3): one clip padded to the window, mean logits over its frames.

Running the model over clips lives in the model layer (:mod:`ser_pipeline.model.clips`); this
module names the protocol's pieces for evaluation code and keeps one import place for them.
"""

from ser_pipeline.model.clips import clip_embeddings, clip_logits, head_logits, packed_clip_logits

__all__ = ["clip_embeddings", "clip_logits", "head_logits", "packed_clip_logits"]
