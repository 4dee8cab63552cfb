"""The embedded ASR corpus: speech and sung lyrics synthesised with espeak-ng.

Three tasks, as in Music Flamingo's backbone enhancement:
- `multilingual_asr`: one sentence in one of `LANGUAGES`, one voice;
- `multispeaker_asr`: two sentences by two different voices of one language,
  transcribed as `[S1] ... [S2] ...`;
- `lyrics`: a lyric line sung (a fixed high pitch, slow rate) over a
  synthetic chord accompaniment, transcribed as the line.

`build_espeak_corpus(out_dir, n_per_task, seed, timeout_s=10)` writes 16 kHz
mono WAVs under `out_dir` and returns manifest rows `{"audio": absolute path,
"text", "task", "language", "speakers"}`. Deterministic for a seed; a WAV
already on disk (named by the hash of its content recipe) is reused, so a
rerun after a crash only synthesises what is missing. Writes are atomic. An
espeak-ng failure or time-out raises `musicflamingo.espeak.EspeakError` naming the text.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import numpy as np

from musicflamingo.espeak import synthesize

SAMPLE_RATE = 16000
LANGUAGES = ("en", "de", "fr", "es", "it")
VARIANTS = ("m3", "f2", "m1", "f4")  # espeak-ng voice variants: different speakers
MAX_SECONDS = 20.0  # size bound of one clip
SENTENCES = {
    "en": ["the piano plays a slow waltz", "the choir sings in four parts", "listen to the bass line",
           "the tempo is ninety beats per minute", "a violin enters in the second verse", "the song ends on the tonic"],
    "de": ["das klavier spielt einen langsamen walzer", "der chor singt vierstimmig", "hör auf die basslinie",
           "die geige setzt in der zweiten strophe ein", "das lied endet auf der tonika"],
    "fr": ["le piano joue une valse lente", "le choeur chante a quatre voix", "ecoute la ligne de basse",
           "le violon entre au deuxieme couplet", "la chanson finit sur la tonique"],
    "es": ["el piano toca un vals lento", "el coro canta a cuatro voces", "escucha la linea del bajo",
           "el violin entra en la segunda estrofa", "la cancion termina en la tonica"],
    "it": ["il pianoforte suona un valzer lento", "il coro canta a quattro voci", "ascolta la linea del basso",
           "il violino entra nella seconda strofa", "la canzone finisce sulla tonica"],
}
LYRICS = ["oh the river runs to the sea", "sing me a song of the morning light", "dance with me under the moon",
          "the wind is calling me home", "hold on to the dream tonight", "we walk along the silver shore"]


def espeak(text: str, voice: str, timeout_s: float, pitch: int = 50, rate: int = 160) -> np.ndarray:
    """`text` spoken by espeak-ng `voice`, as 16 kHz mono float32."""
    import soxr

    wav, sr = synthesize(text, voice, timeout_s, pitch=pitch, rate=rate)
    wav = soxr.resample(wav, sr, SAMPLE_RATE) if sr != SAMPLE_RATE else wav
    return wav[: int(MAX_SECONDS * SAMPLE_RATE)].astype(np.float32)


def _accompaniment(n: int, root_hz: float) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    chord = sum(np.sin(2 * np.pi * root_hz * r * t) for r in (1.0, 1.26, 1.5)) / 3
    return (0.15 * chord * (0.6 + 0.4 * np.cos(2 * np.pi * 2.0 * t) ** 2)).astype(np.float32)


def _write(path: Path, wav: np.ndarray) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.wav")
    sf.write(str(tmp), np.clip(wav, -1, 1), SAMPLE_RATE)
    tmp.replace(path)


def _recipes(n_per_task: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(n_per_task):
        lang = rng.choice(LANGUAGES)
        out.append({"task": "multilingual_asr", "language": lang, "voices": [f"{lang}+{rng.choice(VARIANTS)}"],
                    "texts": [rng.choice(SENTENCES[lang])]})
    for _ in range(n_per_task):
        lang = rng.choice(LANGUAGES)
        a, b = rng.sample(VARIANTS, 2)
        out.append({"task": "multispeaker_asr", "language": lang, "voices": [f"{lang}+{a}", f"{lang}+{b}"],
                    "texts": rng.sample(SENTENCES[lang], 2)})
    for _ in range(n_per_task):
        out.append({"task": "lyrics", "language": "en", "voices": [f"en+{rng.choice(VARIANTS)}"],
                    "texts": [rng.choice(LYRICS)], "root_hz": rng.choice([196.0, 220.0, 261.6])})
    return out


def _render(recipe: dict, timeout_s: float) -> np.ndarray:
    if recipe["task"] == "lyrics":
        voice = espeak(recipe["texts"][0], recipe["voices"][0], timeout_s, pitch=75, rate=110)
        return voice + _accompaniment(len(voice), recipe["root_hz"])
    gap = np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.float32)
    parts = []
    for voice, text in zip(recipe["voices"], recipe["texts"]):
        parts += [espeak(text, voice, timeout_s), gap]
    return np.concatenate(parts[:-1])


def transcript(recipe: dict) -> str:
    if recipe["task"] == "multispeaker_asr":
        return " ".join(f"[S{i + 1}] {t}" for i, t in enumerate(recipe["texts"]))
    return recipe["texts"][0]


def build_espeak_corpus(out_dir: Path, n_per_task: int, seed: int, timeout_s: float = 10.0) -> list[dict]:
    from tqdm import tqdm

    rows = []
    for recipe in tqdm(_recipes(n_per_task, seed), desc="espeak corpus", unit="clip", disable=None):
        key = hashlib.sha256(repr(sorted(recipe.items())).encode()).hexdigest()[:16]
        path = Path(out_dir) / recipe["task"] / f"{key}.wav"
        if not path.is_file():
            _write(path, _render(recipe, timeout_s))
        rows.append({"audio": str(path.resolve()), "text": transcript(recipe), "task": recipe["task"],
                     "language": recipe["language"], "speakers": len(recipe["voices"])})
    return rows
