"""Real Whisper weights from local files: an OpenAI ``whisper`` checkpoint or a CTranslate2
(faster-whisper) folder becomes a transformers ``save_pretrained`` folder of a complete
``WhisperModel`` (encoder and decoder), loadable with ``WhisperModel.from_pretrained(DIR)`` and usable
as ``model.pretrained_dir``. Nothing is fetched from anywhere.

Two source layouts:

- **OpenAI** (``base.pt``, ``medium.pt``): ``torch.save({"dims": {...}, "model_state_dict": {...}})``,
  loaded with ``weights_only=True``. Keys are renamed one to one, e.g.::

      encoder.blocks.3.attn.query.weight   -> encoder.layers.3.self_attn.q_proj.weight
      encoder.positional_embedding         -> encoder.embed_positions.weight
      decoder.blocks.0.cross_attn_ln.bias  -> decoder.layers.0.encoder_attn_layer_norm.bias

  fp16 checkpoints are widened to fp32, which is exact: the encoder is bit-identical to the source.
- **CTranslate2** (``model.bin`` + ``config.json``): the binary format written by CTranslate2's
  ``ModelSpec._serialize`` (read here, no ctranslate2 needed). Variables are named by scope, e.g.::

      encoder/layer_3/self_attention/linear_0/weight  (3·d, d): q, k and v fused row-wise
      decoder/layer_0/attention/linear_1/weight       (2·d, d): cross-attention k and v fused
      decoder/projection/weight                       an alias of decoder/embeddings/weight

  The fused projections are split back; fp16/bf16 widen to fp32 exactly, int8/int16 weights are
  dequantised with their stored scales (not exact: quantisation lost precision at export).

Whisper's key projections have no bias. A fused CTranslate2 bias holds one for k (zeros when
exported from Whisper); it is dropped, which changes nothing: q·(k + b) adds the same q·b to every
key's score of a query, and softmax ignores a constant shift.
"""

from __future__ import annotations

import dataclasses
import mmap
import re
import struct
from pathlib import Path

import numpy as np
import torch
from transformers import WhisperConfig, WhisperModel


class ConversionError(ValueError):
    """A source that is not a convertible Whisper checkpoint; the message names the file."""


@dataclasses.dataclass(frozen=True)
class Converted:
    """What :func:`convert_whisper` wrote."""

    out_dir: Path
    source_format: str  # "openai" | "ctranslate2"
    config: WhisperConfig


def convert_whisper(src: str | Path, out_dir: str | Path) -> Converted:
    """Convert an OpenAI checkpoint file or a CTranslate2 folder to a ``save_pretrained`` folder.

    Args:
        src: an OpenAI ``.pt`` file, or a CTranslate2 folder (or its ``model.bin``).
        out_dir: the folder to write (created; existing files of the same name are replaced).
    Returns:
        :class:`Converted` with the folder, the detected format and the ``WhisperConfig``.
    Raises:
        ConversionError: not a checkpoint, unknown layout, missing ``dims``, unexpected or missing
            keys, or a truncated ``model.bin`` — the message names the file.
    """
    fmt, path = detect_format(src)
    if fmt == "openai":
        config, state = openai_to_hf(path)
    else:
        config, state = ctranslate2_to_hf(path)
    out = write_whisper_folder(config, state, out_dir, source=path)
    return Converted(out, fmt, config)


def detect_format(src: str | Path) -> tuple[str, Path]:
    """``("ctranslate2", model.bin)`` or ``("openai", file)`` for ``src``; refuses anything else."""
    path = Path(src)
    if path.is_dir():
        if (path / "model.bin").is_file():
            return "ctranslate2", path / "model.bin"
        if (path / "config.json").is_file() and any(path.glob("*.safetensors")):
            raise ConversionError(f"{path}: already a transformers save_pretrained folder; "
                                  "use it as model.pretrained_dir directly")
        raise ConversionError(f"{path}: a folder without model.bin (expected a CTranslate2 / "
                              "faster-whisper model folder)")
    if not path.is_file():
        raise ConversionError(f"{path}: no such file or folder")
    with path.open("rb") as f:
        head = f.read(16)
    if path.name == "model.bin" or _looks_like_ctranslate2(head):
        return "ctranslate2", path
    return "openai", path


def _looks_like_ctranslate2(head: bytes) -> bool:
    # uint32 version, uint16 length, then the spec name: b"\x06\0\0\0" b"\x0c\0" b"WhisperSpec\0"
    if len(head) < 7:
        return False
    version, n = struct.unpack_from("<IH", head)
    return 1 <= version <= 64 and 0 < n < 256 and head[6:6 + min(n - 1, 10)].isascii()


# ---------------------------------------------------------------------------- OpenAI checkpoints

#: OpenAI ``dims`` field -> WhisperConfig field.
_OPENAI_DIMS = {
    "n_mels": "num_mel_bins", "n_audio_ctx": "max_source_positions", "n_audio_state": "d_model",
    "n_audio_head": "encoder_attention_heads", "n_audio_layer": "encoder_layers", "n_vocab": "vocab_size",
    "n_text_ctx": "max_target_positions", "n_text_state": None, "n_text_head": "decoder_attention_heads",
    "n_text_layer": "decoder_layers",
}
#: Module names inside ``{encoder,decoder}.blocks.N.`` (OpenAI) -> inside ``.layers.N.`` (HF).
_OPENAI_BLOCK = {
    "attn.query": "self_attn.q_proj", "attn.key": "self_attn.k_proj", "attn.value": "self_attn.v_proj",
    "attn.out": "self_attn.out_proj", "attn_ln": "self_attn_layer_norm",
    "cross_attn.query": "encoder_attn.q_proj", "cross_attn.key": "encoder_attn.k_proj",
    "cross_attn.value": "encoder_attn.v_proj", "cross_attn.out": "encoder_attn.out_proj",
    "cross_attn_ln": "encoder_attn_layer_norm",
    "mlp.0": "fc1", "mlp.2": "fc2", "mlp_ln": "final_layer_norm",
}
#: Whole-key renames outside the blocks.
_OPENAI_TOP = {
    "encoder.positional_embedding": "encoder.embed_positions.weight",
    "decoder.positional_embedding": "decoder.embed_positions.weight",
    "decoder.token_embedding.weight": "decoder.embed_tokens.weight",
    "encoder.ln_post.weight": "encoder.layer_norm.weight", "encoder.ln_post.bias": "encoder.layer_norm.bias",
    "decoder.ln.weight": "decoder.layer_norm.weight", "decoder.ln.bias": "decoder.layer_norm.bias",
    **{f"encoder.{c}.{p}": f"encoder.{c}.{p}" for c in ("conv1", "conv2") for p in ("weight", "bias")},
}
_OPENAI_BLOCK_KEY = re.compile(r"(encoder|decoder)\.blocks\.(\d+)\.(.+)\.(weight|bias)")


def openai_key_to_hf(key: str) -> str | None:
    """The ``WhisperModel`` name of an OpenAI state-dict key, or None when it has none."""
    if key in _OPENAI_TOP:
        return _OPENAI_TOP[key]
    m = _OPENAI_BLOCK_KEY.fullmatch(key)
    if m and m.group(3) in _OPENAI_BLOCK:
        side, i, module, param = m.groups()
        return f"{side}.layers.{i}.{_OPENAI_BLOCK[module]}.{param}"
    return None


def openai_to_hf(path: str | Path) -> tuple[WhisperConfig, dict[str, torch.Tensor]]:
    """Read an OpenAI ``whisper`` checkpoint: its config and fp32 state dict in HF names.

    Raises:
        ConversionError: not a torch checkpoint, no ``dims`` / ``model_state_dict``, missing dims
            fields, or keys that no ``WhisperModel`` parameter takes.
    """
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises pickle, zip and runtime errors alike for non-checkpoints
        if "Unsupported global" in str(exc):  # a pickle of objects: weights_only never runs their code
            raise ConversionError(f"{path}: holds Python objects besides tensors and plain containers "
                                  "(an OpenAI whisper checkpoint has none; refused, as loading them "
                                  "would run their code)") from exc
        raise ConversionError(f"{path}: not a torch checkpoint nor a CTranslate2 model.bin "
                              f"(torch.load: {type(exc).__name__})") from exc
    if not isinstance(ckpt, dict) or "model_state_dict" not in ckpt:
        keys = sorted(ckpt)[:8] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ConversionError(f"{path}: unknown layout, expected an OpenAI whisper checkpoint "
                              f"{{'dims', 'model_state_dict'}}, found {keys}")
    dims = ckpt.get("dims")
    if not isinstance(dims, dict):
        raise ConversionError(f"{path}: missing 'dims' (the OpenAI checkpoint's model dimensions)")
    lacking = sorted(set(_OPENAI_DIMS) - set(dims))
    if lacking:
        raise ConversionError(f"{path}: 'dims' lacks {lacking}")
    state: dict[str, torch.Tensor] = {}
    unexpected = []
    for key, value in ckpt["model_state_dict"].items():
        name = openai_key_to_hf(key)
        if name is None or not isinstance(value, torch.Tensor):
            unexpected.append(key)
        else:
            state[name] = value.detach().to(torch.float32).contiguous()
    if unexpected:
        raise ConversionError(f"{path}: unexpected keys for an OpenAI whisper checkpoint: "
                              f"{_head(unexpected)}")
    fields = {hf: int(dims[k]) for k, hf in _OPENAI_DIMS.items() if hf}
    for side in ("encoder", "decoder"):
        fc1 = state.get(f"{side}.layers.0.fc1.weight")
        if fc1 is None:
            raise ConversionError(f"{path}: no {side} block 0 MLP ({side}.blocks.0.mlp.0.weight)")
        fields[f"{side}_ffn_dim"] = int(fc1.shape[0])
    if int(dims["n_text_state"]) != fields["d_model"]:
        raise ConversionError(f"{path}: n_text_state {dims['n_text_state']} != n_audio_state "
                              f"{fields['d_model']}; a WhisperModel shares one width")
    return _full_whisper_config(**fields), state


# ---------------------------------------------------------------------------- CTranslate2 model.bin

#: Highest ``model.bin`` binary version this reader knows (CTranslate2 4.x writes 6).
CT2_BINARY_VERSION = 6
#: CTranslate2 DataType ids (include/ctranslate2/types.h order) -> numpy dtype; bf16 is read as uint16.
_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: np.uint16}
_CT2_BF16 = 5
#: Before binary version 4 the dtype was given by its item size alone.
_CT2_ITEM_SIZE = {4: 0, 2: 2, 1: 1}


@dataclasses.dataclass
class CT2Model:
    """A parsed ``model.bin``: header and every variable (aliases resolved, weights as float32)."""

    binary_version: int
    spec: str
    revision: int
    variables: dict[str, np.ndarray]


class _Reader:
    """Little-endian reads over a memory-mapped file that name the file when it ends too early."""

    def __init__(self, buf, path: Path):
        self.buf, self.path, self.pos = buf, path, 0

    def take(self, fmt: str, what: str):
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.buf):
            raise ConversionError(f"{self.path}: truncated at byte {self.pos} while reading {what}")
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += size
        return values if len(values) > 1 else values[0]

    def shape(self, rank: int, name: str) -> tuple[int, ...]:
        size = 4 * rank
        if self.pos + size > len(self.buf):
            raise ConversionError(f"{self.path}: truncated at byte {self.pos} while reading {name}'s shape")
        dims = struct.unpack_from(f"<{rank}I", self.buf, self.pos)
        self.pos += size
        return dims

    def string(self, what: str) -> str:
        n = self.take("H", what)  # length includes the trailing NUL
        return self.take(f"{n}s", what).rstrip(b"\0").decode("utf-8", errors="replace")

    def array(self, dtype, count: int, what: str) -> np.ndarray:
        """A view into the map: copy it (``_widen``) before the map closes."""
        nbytes = np.dtype(dtype).itemsize * count
        if self.pos + nbytes > len(self.buf):
            raise ConversionError(f"{self.path}: truncated at byte {self.pos} while reading {what} "
                                  f"({nbytes} bytes, {len(self.buf) - self.pos} left)")
        out = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos)
        self.pos += nbytes
        return out


def read_ctranslate2(path: str | Path) -> CT2Model:
    """Parse a CTranslate2 ``model.bin`` (binary versions 2–6; see ``ModelSpec._serialize``).

    Layout, all little-endian: ``uint32`` binary version; ``string`` spec name; ``uint32`` spec
    revision; ``uint32`` variable count, then per variable ``string`` name, ``uint8`` rank,
    ``uint32 × rank`` shape, ``uint8`` dtype id (v ≥ 4; before: item size), ``uint32`` byte count
    (v ≥ 4; before: element count), the raw data; then (v ≥ 3) ``uint32`` alias count and
    ``string`` alias, ``string`` target pairs. A ``string`` is ``uint16`` length (with the NUL),
    UTF-8 bytes, NUL.

    Returns:
        :class:`CT2Model`; floating variables as float32 (bf16/fp16 widened exactly); int8/int16
        tensors named ``*weight`` with a ``*weight_scale`` are dequantised (w / scale per row) and
        their scales dropped; rank-0 variables (flags, head counts) keep their integer type.
    Raises:
        ConversionError: unsupported binary version, unknown dtype, truncated file, trailing bytes.
    """
    path = Path(path)
    with path.open("rb") as f:
        if path.stat().st_size == 0:
            raise ConversionError(f"{path}: empty file, not a CTranslate2 model.bin")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            r = _Reader(buf, path)
            version = r.take("I", "the binary version")
            if not 2 <= version <= CT2_BINARY_VERSION:
                raise ConversionError(f"{path}: CTranslate2 binary version {version} is not supported "
                                      f"(this reader knows 2..{CT2_BINARY_VERSION})")
            spec = r.string("the spec name")
            revision = r.take("I", "the spec revision")
            raw: dict[str, np.ndarray] = {}
            for i in range(r.take("I", "the variable count")):
                name = r.string(f"variable {i}'s name")
                rank = r.take("B", f"{name}'s rank")
                shape = r.shape(rank, name)
                if version >= 4:
                    type_id, nbytes = r.take("BI", f"{name}'s dtype and size")
                else:
                    item, count = r.take("BI", f"{name}'s item size and count")
                    type_id, nbytes = _CT2_ITEM_SIZE.get(item, -1), item * count
                if type_id not in _CT2_DTYPES:
                    raise ConversionError(f"{path}: {name} has unknown dtype id {type_id}")
                dtype = _CT2_DTYPES[type_id]
                count = int(np.prod(shape, dtype=np.int64)) if shape else 1
                if count * np.dtype(dtype).itemsize != nbytes:
                    raise ConversionError(f"{path}: {name} declares {nbytes} bytes for shape {shape} "
                                          f"of {np.dtype(dtype).name}")
                # no name may hold the view: the map refuses to close while one exists
                raw[name] = _widen(r.array(dtype, count, name).reshape(shape), type_id == _CT2_BF16)
            aliases = {}
            if version >= 3:
                for i in range(r.take("I", "the alias count")):
                    alias = r.string(f"alias {i}")
                    aliases[alias] = r.string(f"alias {alias}'s target")
            if r.pos != len(buf):
                raise ConversionError(f"{path}: {len(buf) - r.pos} unexpected bytes after the last "
                                      "variable (not a CTranslate2 model.bin?)")
    for alias, target in aliases.items():
        if target not in raw:
            raise ConversionError(f"{path}: alias {alias} points at missing variable {target}")
        raw[alias] = raw[target]
    return CT2Model(version, spec, revision, _dequantize(raw))


def _widen(data: np.ndarray, bf16: bool) -> np.ndarray:
    """A copy owned by us (the mmap closes): floats as float32 (bf16 bits shifted into place)."""
    if bf16:
        return (data.astype(np.uint32) << 16).view(np.float32)
    if data.dtype == np.float16:
        return data.astype(np.float32)
    return data.copy()


def _dequantize(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """int8 weights with per-row scales and int16 weights with one scale, back to float32."""
    out = dict(raw)
    for name, value in raw.items():
        scale = raw.get(name + "_scale")
        if scale is None or not name.endswith("weight") or value.dtype.kind != "i":
            continue
        # quantised at export as round(w · scale): per output row for int8, one scalar for int16
        s = scale.reshape(-1, *([1] * (value.ndim - 1))) if scale.ndim else scale
        out[name] = (value.astype(np.float32) / s).astype(np.float32)
        del out[name + "_scale"]
    return out


def ctranslate2_to_hf(path: str | Path) -> tuple[WhisperConfig, dict[str, torch.Tensor]]:
    """Read a CTranslate2 Whisper ``model.bin``: its config (from the tensors' shapes and the
    stored head counts) and fp32 state dict in HF names, with q/k/v un-fused.

    Raises:
        ConversionError: not a ``WhisperSpec`` model, an unsupported activation, or variables that
            no ``WhisperModel`` parameter takes (named in the message).
    """
    path = Path(path)
    ct2 = read_ctranslate2(path)
    if ct2.spec != "WhisperSpec":
        raise ConversionError(f"{path}: a CTranslate2 {ct2.spec or 'unnamed'} model, not WhisperSpec")
    # v is the only holder of the arrays: each is freed once popped and copied (peak ~ one model)
    v = ct2.variables
    del ct2
    n_layers = {side: len({m.group(1) for k in v if (m := re.match(rf"{side}/layer_(\d+)/", k))})
                for side in ("encoder", "decoder")}
    activation = v.get("decoder/activation")
    if activation is not None and int(activation) != 3:  # common_spec.Activation.GELU
        raise ConversionError(f"{path}: decoder activation id {int(activation)}, Whisper uses GELU (3)")
    state: dict[str, torch.Tensor] = {}

    def take(name: str) -> np.ndarray:
        if name not in v:
            raise ConversionError(f"{path}: missing variable {name}")
        return v.pop(name)

    def put(hf: str, ct: str) -> None:  # a LayerNorm (gamma, beta) or a Linear/Conv (weight, bias)
        if ct + "/gamma" in v:
            state[hf + ".weight"], state[hf + ".bias"] = _t(take(ct + "/gamma")), _t(take(ct + "/beta"))
        else:
            state[hf + ".weight"], state[hf + ".bias"] = _t(take(ct + "/weight")), _t(take(ct + "/bias"))

    def put_split(hf_names: list[str], ct: str) -> None:
        """A fused linear: rows split evenly, one part per name (k_proj: its bias is dropped)."""
        weight, bias = take(ct + "/weight"), take(ct + "/bias")
        for hf, w, b in zip(hf_names, np.split(weight, len(hf_names)), np.split(bias, len(hf_names))):
            state[hf + ".weight"] = _t(w)
            if not hf.endswith("k_proj"):
                state[hf + ".bias"] = _t(b)

    put("encoder.conv1", "encoder/conv1")
    put("encoder.conv2", "encoder/conv2")
    state["encoder.embed_positions.weight"] = _t(take("encoder/position_encodings/encodings"))
    put("encoder.layer_norm", "encoder/layer_norm")
    state["decoder.embed_tokens.weight"] = _t(take("decoder/embeddings/weight"))
    state["decoder.embed_positions.weight"] = _t(take("decoder/position_encodings/encodings"))
    put("decoder.layer_norm", "decoder/layer_norm")
    # the output projection of WhisperForConditionalGeneration (tied to the token embedding):
    # WhisperModel has none
    v.pop("decoder/projection/weight", None)
    v.pop("decoder/projection/bias", None)
    for side in ("encoder", "decoder"):
        for i in range(n_layers[side]):
            ct, hf = f"{side}/layer_{i}", f"{side}.layers.{i}"
            put(f"{hf}.self_attn_layer_norm", f"{ct}/self_attention/layer_norm")
            put_split([f"{hf}.self_attn.q_proj", f"{hf}.self_attn.k_proj", f"{hf}.self_attn.v_proj"],
                      f"{ct}/self_attention/linear_0")
            put(f"{hf}.self_attn.out_proj", f"{ct}/self_attention/linear_1")
            if side == "decoder":
                put(f"{hf}.encoder_attn_layer_norm", f"{ct}/attention/layer_norm")
                put(f"{hf}.encoder_attn.q_proj", f"{ct}/attention/linear_0")
                put_split([f"{hf}.encoder_attn.k_proj", f"{hf}.encoder_attn.v_proj"], f"{ct}/attention/linear_1")
                put(f"{hf}.encoder_attn.out_proj", f"{ct}/attention/linear_2")
            put(f"{hf}.final_layer_norm", f"{ct}/ffn/layer_norm")
            put(f"{hf}.fc1", f"{ct}/ffn/linear_0")
            put(f"{hf}.fc2", f"{ct}/ffn/linear_1")
    # what is left must be rank-0 settings (num_heads, pre_norm, keep_in_float32, ...)
    leftover = [k for k, a in v.items() if a.ndim > 0]
    if leftover:
        raise ConversionError(f"{path}: unexpected variables for a Whisper model: {_head(sorted(leftover))}")
    for side in ("encoder", "decoder"):
        if not n_layers[side] or f"{side}/num_heads" not in v:
            raise ConversionError(f"{path}: no {side} layers or {side}/num_heads")
    conv1 = state["encoder.conv1.weight"]  # (d_model, n_mels, 3)
    config = _full_whisper_config(
        d_model=int(conv1.shape[0]), num_mel_bins=int(conv1.shape[1]),
        encoder_layers=n_layers["encoder"], decoder_layers=n_layers["decoder"],
        encoder_attention_heads=int(v["encoder/num_heads"]), decoder_attention_heads=int(v["decoder/num_heads"]),
        encoder_ffn_dim=int(state["encoder.layers.0.fc1.weight"].shape[0]),
        decoder_ffn_dim=int(state["decoder.layers.0.fc1.weight"].shape[0]),
        max_source_positions=int(state["encoder.embed_positions.weight"].shape[0]),
        max_target_positions=int(state["decoder.embed_positions.weight"].shape[0]),
        vocab_size=int(state["decoder.embed_tokens.weight"].shape[0]))
    return config, state


def _t(a: np.ndarray) -> torch.Tensor:
    """A float32 tensor with its own storage (split views must not share it: safetensors refuses)."""
    return torch.from_numpy(np.array(a, dtype=np.float32, copy=True))


def _head(items: list[str], n: int = 10) -> str:
    return ", ".join(items[:n]) + (f", ... ({len(items)} in all)" if len(items) > n else "")


# ---------------------------------------------------------------------------- the HF folder

def _full_whisper_config(**dims: int) -> WhisperConfig:
    """A ``WhisperConfig`` for the given dimensions with Whisper's special-token ids.

    The token ids matter only to generation, never to the encoder: the real vocabularies get
    OpenAI's (<|endoftext|> = 50256, or 50257 for the 51866-token large-v3 vocabulary); a smaller
    test vocabulary gets its last two ids, since ids outside the vocabulary fail to build.
    """
    vocab = dims["vocab_size"]
    eot = (50257 if vocab > 51865 else 50256) if vocab > 50257 else vocab - 2
    return WhisperConfig(**dims, pad_token_id=eot, bos_token_id=eot, eos_token_id=eot,
                         decoder_start_token_id=eot + 1, dtype="float32")


def write_whisper_folder(config: WhisperConfig, state: dict[str, torch.Tensor], out_dir: str | Path,
                         *, source: str | Path = "?") -> Path:
    """Check ``state`` against ``WhisperModel(config)`` key by key and shape by shape, then
    ``save_pretrained`` it to ``out_dir`` (fp32 safetensors + config.json).

    Raises:
        ConversionError: missing keys, keys the model lacks, or shape mismatches, naming ``source``.
    """
    with torch.device("meta"):  # the structure only: no memory, no random init
        model = WhisperModel(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(expected[k].shape)}" for k in sorted(set(state) & set(expected))
              if state[k].shape != expected[k].shape]
    if missing or extra or shapes:
        raise ConversionError(f"{source}: does not fit a WhisperModel: missing {_head(missing)}; "
                              f"unexpected {_head(extra)}; shape mismatch {_head(shapes)}")
    model.load_state_dict(state, strict=True, assign=True)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    return out
