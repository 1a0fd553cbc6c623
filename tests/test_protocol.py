"""The paper's protocol: mean logits over a clip's valid frames, computed from one encoder pass."""

import numpy as np
import torch

from ser_pipeline.audio.features import log_mel
from ser_pipeline.corpora import read_corpus
from ser_pipeline.evaluation.protocol import clip_embeddings, clip_logits, head_logits
from ser_pipeline.training.config import TrainConfig
from ser_pipeline.audio.clips import ClipDataset
from ser_pipeline.model import build_model, valid_frames


def test_head_on_mean_embedding_equals_mean_of_frame_logits(corpus_factory):
    root = corpus_factory("emodb", speakers=1, per_class=1)
    table, _ = read_corpus("emodb", root)
    torch.manual_seed(0)
    cfg = TrainConfig.from_dict({"window_s": 4.0, "model": {"d_model": 16, "encoder_layers": 1,
                                 "encoder_attention_heads": 2, "encoder_ffn_dim": 32}})
    model = build_model(cfg.model, cfg.window_s).eval()
    with torch.no_grad():
        model.head.weight.mul_(1.7)  # a head whose logits are not near zero
    ours = clip_logits(model, table, {"emodb": root})
    ds = ClipDataset(table, {"emodb": root}, max_seconds=4.0)
    for i in range(len(ds)):
        w = ds.wave(i)
        with torch.no_grad():
            frames, _ = model(log_mel([w], window_s=4.0))
        ref = frames[0, : valid_frames(len(w), model.n_frames)].mean(0).numpy()  # mean of per-frame logits
        np.testing.assert_allclose(ours[i], ref, rtol=1e-5, atol=1e-5)
    emb = clip_embeddings(model, table, {"emodb": root})
    model.reset_head(1)
    assert not np.allclose(head_logits(model, emb), ours)  # another head, same embeddings
