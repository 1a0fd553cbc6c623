"""Throughput and model FLOP utilisation (MFU) of one training step of the emotion model.

Random weights from a WhisperConfig (``--size medium``: d_model 1024, 24 layers, 16 heads,
FFN 4096, like whisper-medium's encoder) plus the emotion and domain heads; random log-mel input
of ``--window-s`` seconds; forward, soft-label CE (span-mean logits) + GRL domain CE, backward,
gradient clipping, AdamW step. bf16 autocast on CUDA, fp32 on CPU. Feature extraction and data
loading are not timed.

FLOPs per step are counted analytically (3 × forward: backward ≈ 2 × forward):
per encoder frame and layer, 2·(4·d² + 2·d·ffn) for the projections and 4·T·d for attention;
plus the two convolutions of the front end. MFU = achieved FLOP/s / ``--peak-tflops``
(default: a table lookup by GPU name, none on CPU).

    PYTHONPATH=$PWD python benchmarks/train_step.py --size medium --batch 8        # GPU
    PYTHONPATH=$PWD python benchmarks/train_step.py --size tiny --window-s 2        # CPU smoke
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from ser_pipeline.model import EmotionModel, ModelConfig
from ser_pipeline.model.encoder import build_encoder, enable_gradient_checkpointing
from ser_pipeline.training.losses import domain_loss_from_frame_logits, emotion_loss
from ser_pipeline.training.steps import compile_encoder, fused_adamw
from ser_pipeline.training.training_model import TrainingModel

SIZES = {  # d_model, layers, heads, ffn
    "tiny": (64, 2, 2, 256),
    "small": (768, 12, 12, 3072),
    "medium": (1024, 24, 16, 4096),
    "large": (1280, 32, 20, 5120),
}
#: dense bf16 peak TFLOP/s by GPU name fragment (vendor data sheets)
#: (checked in order: L40S before L4, A100 before A10)
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0, "L4": 121.0,
                    "4090": 165.0}


def step_flops(d: int, layers: int, ffn: int, frames: int, n_mels: int, batch: int) -> float:
    """Analytic FLOPs of one training step (forward + backward ≈ 3 × forward)."""
    per_layer = frames * (2 * (4 * d * d + 2 * d * ffn) + 4 * frames * d)
    convs = 2 * (2 * frames) * (n_mels * 3 * d) + 2 * frames * (d * 3 * d)
    return 3.0 * batch * (layers * per_layer + convs)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(SIZES), default="medium")
    ap.add_argument("--batch", type=int, default=8, help="windows per step")
    ap.add_argument("--window-s", type=float, default=30.0)
    ap.add_argument("--n-mels", type=int, default=80)
    ap.add_argument("--n-domains", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--grad-checkpointing", action="store_true")
    ap.add_argument("--compile", action="store_true", help="torch.compile the encoder (TrainConfig.compile)")
    ap.add_argument("--peak-tflops", type=float, default=None)
    args = ap.parse_args(argv)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    d, layers, heads, ffn = SIZES[args.size]
    mcfg = ModelConfig(d_model=d, encoder_layers=layers, encoder_attention_heads=heads, encoder_ffn_dim=ffn,
                       num_mel_bins=args.n_mels, freeze_front_end="true")
    torch.manual_seed(0)
    model = EmotionModel(build_encoder(mcfg, args.window_s), n_domains=args.n_domains, freeze=True)
    if args.grad_checkpointing:
        enable_gradient_checkpointing(model.encoder)
    model.to(device).train()
    compile_encoder(model, args.compile)
    net = TrainingModel(model, "grl", 0.01)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5, fused=fused_adamw(device) or None)
    amp = torch.bfloat16 if device.type == "cuda" else None
    frames = int(round(args.window_s * 50))
    b = args.batch
    feats = torch.randn(b, args.n_mels, 2 * frames, device=device)
    # 5 clips per window, equal spans
    edges = torch.linspace(0, frames, 6).long()
    spans = torch.tensor([[i, int(edges[k]), int(edges[k + 1])] for i in range(b) for k in range(5)], device=device)
    targets = torch.softmax(torch.randn(len(spans), 8, device=device), -1)
    dom = torch.randint(0, args.n_domains, (len(spans),), device=device)

    def step() -> None:
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            logits, dlogits = net(feats)
        loss = emotion_loss(logits, spans, targets) + domain_loss_from_frame_logits(dlogits, spans, dom)[0]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(args.warmup):
        step()
    sync()
    t = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync()
    dt = (time.perf_counter() - t) / args.steps
    flops = step_flops(d, layers, ffn, frames, args.n_mels, b)
    peak = args.peak_tflops
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine())
    if peak is None and device.type == "cuda":
        peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
    out = {"size": args.size, "device": name, "dtype": "bf16" if amp else "fp32", "batch": b,
           "window_s": args.window_s, "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
           "step_s": round(dt, 4), "samples_per_s": round(b / dt, 2), "audio_s_per_s": round(b * args.window_s / dt, 1),
           "tflops_per_s": round(flops / dt / 1e12, 3),
           "mfu": round(flops / dt / (peak * 1e12), 4) if peak else None,
           "compile": args.compile, "grad_checkpointing": args.grad_checkpointing, "threads": torch.get_num_threads()}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
