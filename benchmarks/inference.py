"""Inference real-time factor on this machine for tiny, base-sized and medium-sized encoders
(random weights): one 30 s window and a batch. RTF = compute seconds / audio seconds (lower is
better); the baseline is the same model on one window, so the batch line shows what batching buys.

    python benchmarks/inference.py --sizes tiny base medium --batch 8
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ser_pipeline.audio.features import log_mel
from ser_pipeline.model import EmotionModel, ModelConfig
from ser_pipeline.model.encoder import build_encoder

SIZES = {  # d_model, layers, heads, ffn (whisper tiny/base/medium encoder shapes)
    "tiny": (384, 4, 6, 1536),
    "base": (512, 6, 8, 2048),
    "medium": (1024, 24, 16, 4096),
}


@torch.no_grad()
def rtf(model: EmotionModel, batch: int, device: str, repeats: int) -> float:
    waves = [np.zeros(480000, dtype=np.float32)] * batch
    feats = log_mel(waves, device=device)
    model(feats)
    t = time.perf_counter()
    for _ in range(repeats):
        model(log_mel(waves, device=device))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / repeats / (30.0 * batch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["tiny", "base", "medium"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.manual_seed(0)
    print(f"inference RTF (compute s per audio s), device {args.device}, torch threads {torch.get_num_threads()}")
    for size in args.sizes:
        d, n_layers, h, f = SIZES[size]
        cfg = ModelConfig(d_model=d, encoder_layers=n_layers, encoder_attention_heads=h, encoder_ffn_dim=f)
        model = EmotionModel(build_encoder(cfg, 30.0)).to(args.device).eval()
        one = rtf(model, 1, args.device, args.repeats)
        many = rtf(model, args.batch, args.device, args.repeats)
        print(f"  {size:6s}: 1 window RTF {one:.4f} ({1 / one:6.1f}x real time); batch {args.batch} RTF {many:.4f} "
              f"({1 / many:6.1f}x real time); batching gain {one / many:.2f}x")


if __name__ == "__main__":
    main()
