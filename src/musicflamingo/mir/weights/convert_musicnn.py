"""Convert musicnn's MTT_musicnn TensorFlow 1 checkpoint to `musicnn_mtt.npz` (torch layout).

Not part of the pipeline and never imported by it: run once, in a throwaway
virtualenv outside the repository, because musicnn's own pins (TF1,
numpy<1.17) do not install with this stack:

    python3.11 -m venv /tmp/tfvenv
    /tmp/tfvenv/bin/pip install tensorflow-cpu==2.21.0 tf_keras==2.21.0 librosa==0.11.0
    /tmp/tfvenv/bin/pip install --no-deps musicnn==0.1.0   # sha256 f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa
    TF_USE_LEGACY_KERAS=1 /tmp/tfvenv/bin/python src/musicflamingo/mir/weights/convert_musicnn.py \
        --out src/musicflamingo/mir/weights/musicnn_mtt.npz [--reference CLIP ... --reference-out ref.npz]

The graph is musicnn's own (`musicnn.models.define_model`), restored from the
checkpoint shipped in the wheel; each variable is written under the name of
the matching parameter of `musicflamingo.mir.tagger.MusiCNN`, transposed from
TF's (kh, kw, in, out) to torch's (out, in, kh, kw).

`--reference` also runs musicnn's TF graph on the clips and stores, per clip,
the log-mel patches fed to it (computed in float32, the fixed preprocessing)
and its sigmoid outputs, plus the taggram of musicnn's own unmodified
`extractor` (float16 preprocessing), so the torch port can be compared with
the original (`tests/mir/test_tagger.py` states the figures).

`--onnx` (in the project's own environment plus `pip install onnx`, no TF) exports
the torch port with the converted weights to `musicnn_mtt.onnx`, which `mir annotate`
runs on onnxruntime; then pin the printed sha256 in `tagger.WEIGHTS_ONNX_SHA256`:

    .venv/bin/python src/musicflamingo/mir/weights/convert_musicnn.py --onnx \
        --out src/musicflamingo/mir/weights/musicnn_mtt.onnx

Weights: Copyright (c) Music Technology Group, Universitat Pompeu Fabra 2019
(Jordi Pons), ISC licence; see LICENSE-musicnn.md beside this file.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

MODEL = "MTT_musicnn"
N_FRAMES = 187  # 3 s at 16 kHz, hop 256 (musicnn.extractor: time_to_frames(3) + 1)


def _bn(prefix: str, tf_name: str, v: dict, out: dict) -> None:
    out[f"{prefix}.weight"] = v[f"{tf_name}/gamma"]
    out[f"{prefix}.bias"] = v[f"{tf_name}/beta"]
    out[f"{prefix}.running_mean"] = v[f"{tf_name}/moving_mean"]
    out[f"{prefix}.running_var"] = v[f"{tf_name}/moving_variance"]


def _conv2d(prefix: str, tf_name: str, v: dict, out: dict) -> None:
    out[f"{prefix}.weight"] = np.transpose(v[f"{tf_name}/kernel"], (3, 2, 0, 1))  # (kh, kw, in, out) -> (out, in, kh, kw)
    out[f"{prefix}.bias"] = v[f"{tf_name}/bias"]


def _conv1d(prefix: str, tf_name: str, v: dict, out: dict) -> None:
    # The mid-end convolves over (time, all features) with one input channel: a 1-D conv over time.
    out[f"{prefix}.weight"] = np.transpose(v[f"{tf_name}/kernel"][:, :, 0, :], (2, 1, 0))  # (k, in, out) -> (out, in, k)
    out[f"{prefix}.bias"] = v[f"{tf_name}/bias"]


def synthetic_patches() -> np.ndarray:
    """Two (187, 96) inputs in the range of real log-mels, from a fixed seed (same in tests/mir/test_tagger.py)."""
    rng = np.random.default_rng(17)
    return np.abs(rng.normal(1.0, 0.7, (2, N_FRAMES, 96))).astype(np.float32)


def torch_state(v: dict) -> dict:
    """TF variable name (without ':0') -> array  =>  torch state_dict name -> float32 array."""
    out: dict[str, np.ndarray] = {}
    _bn("input_bn", "batch_normalization", v, out)
    for i, name in enumerate(["timbral_74", "timbral_77", "temporal_128", "temporal_64", "temporal_32"]):
        _conv2d(f"{name}.conv", "conv2d" if i == 0 else f"conv2d_{i}", v, out)
        _bn(f"{name}.bn", f"batch_normalization_{i + 1}", v, out)
    for j, name in enumerate(["mid1", "mid2", "mid3"]):
        _conv1d(f"{name}.conv", f"conv2d_{5 + j}", v, out)
        _bn(f"{name}.bn", f"batch_normalization_{6 + j}", v, out)
    _bn("pool_bn", "batch_normalization_9", v, out)
    out["dense.weight"], out["dense.bias"] = v["dense/kernel"].T, v["dense/bias"]
    _bn("dense_bn", "batch_normalization_10", v, out)
    out["logits.weight"], out["logits.bias"] = v["dense_1/kernel"].T, v["dense_1/bias"]
    return {k: np.ascontiguousarray(a, dtype=np.float32) for k, a in out.items()}


def export_onnx(out: str) -> None:
    """The torch port (`tagger.load_torch`) as ONNX opset 17 with a dynamic batch axis: input "patch"
    (batch, 187, 96) float32 log-mel, outputs "logits" (batch, 50) and "embedding" (batch, 200); the
    tag labels are the model's metadata ("labels", JSON)."""
    import hashlib
    import io
    import json

    import onnx
    import torch

    from musicflamingo.mir import tagger

    model, labels = tagger.load_torch()
    buf = io.BytesIO()
    torch.onnx.export(model, (torch.from_numpy(synthetic_patches()[:1]),), buf, dynamo=False, opset_version=17,
                      input_names=["patch"], output_names=["logits", "embedding"], dynamic_axes={"patch": {0: "batch"}})
    proto = onnx.load_from_string(buf.getvalue())
    onnx.helper.set_model_props(proto, {"labels": json.dumps(list(labels)), "source": "musicnn==0.1.0 MTT_musicnn via musicflamingo.mir.tagger"})
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    with open(out, "wb") as f:
        f.write(data)
    print(f"wrote {out}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--onnx", action="store_true", help="export the torch port to ONNX (no TF needed)")
    ap.add_argument("--reference", nargs="*", default=[])
    ap.add_argument("--reference-out")
    ap.add_argument("--synthetic-reference", help="JSON: TF outputs on `synthetic_patches()` (the test fixture)")
    args = ap.parse_args()
    if args.onnx:
        export_onnx(args.out)
        return

    import librosa
    import musicnn
    import tensorflow as tf
    from musicnn import configuration as config
    from musicnn import extractor, models

    tf.compat.v1.disable_eager_execution()
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, config.N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        y = tf.nn.sigmoid(models.define_model(x, is_training, MODEL, len(config.MTT_LABELS))[0])
    sess = tf.compat.v1.Session()
    tf.compat.v1.train.Saver().restore(sess, os.path.join(os.path.dirname(musicnn.__file__), MODEL) + "/")
    variables = {var.name.removesuffix(":0"): val for var, val in zip(tf.compat.v1.global_variables(), sess.run(tf.compat.v1.global_variables()))}
    state = torch_state(variables)
    assert sum(a.size for a in state.values()) == sum(a.size for a in variables.values()), "a variable was left out"
    np.savez_compressed(args.out, labels=np.array(config.MTT_LABELS), **state)
    print(f"wrote {args.out}: {len(state)} tensors, {sum(a.size for a in state.values())} parameters")

    if args.synthetic_reference:
        import json

        probs = sess.run(y, feed_dict={x: synthetic_patches(), is_training: False})
        with open(args.synthetic_reference, "w") as f:
            json.dump({"seed": 17, "source": "musicnn==0.1.0 MTT_musicnn, TF graph", "probs": probs.round(7).tolist()}, f)

    ref = {}
    for i, clip in enumerate(args.reference):
        audio, sr = librosa.load(clip, sr=config.SR)
        mel = librosa.feature.melspectrogram(y=audio, sr=sr, hop_length=config.FFT_HOP, n_fft=config.FFT_SIZE, n_mels=config.N_MELS).T
        logmel = np.log10(10000 * mel.astype(np.float32) + 1)  # the fixed preprocessing: no float16
        n = len(logmel) // N_FRAMES
        patches = logmel[: n * N_FRAMES].reshape(n, N_FRAMES, config.N_MELS)
        ref[f"patches_{i}"] = patches
        ref[f"tf_{i}"] = sess.run(y, feed_dict={x: patches, is_training: False})
        ref[f"original_{i}"] = extractor.extractor(clip, model=MODEL, extract_features=False)[0]  # musicnn as shipped (float16)
        ref[f"name_{i}"] = np.array(os.path.basename(clip))
        print(clip, patches.shape, "tf tags", ref[f"tf_{i}"].mean(axis=0).round(2)[:8])
    if ref:
        np.savez_compressed(args.reference_out, **ref)


if __name__ == "__main__":
    main()
