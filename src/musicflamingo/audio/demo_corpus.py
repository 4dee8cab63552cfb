"""The embedded demo corpus: music21 scores rendered with FluidSynth.

Because the audio is rendered from symbolic scores, tempo, key, meter,
chords and instruments are known exactly, and every later stage can be
audited against them. Each piece gets a General MIDI instrument and a tempo
drawn deterministically from the seed, so timbre and tempo vary.

Ground truth is derived *after* `expandRepeats()` and truncation, because
the MIDI file music21 writes is that excerpt, expanded.

Sidecar conventions (`truth.json`):
- `tempo_bpm`: the quarter-note tempo the score is played at;
- `beats`, `beat_bpm`: the notated beat, i.e. the time signature's beat unit
  (music21 `TimeSignature.beatDuration`): a quarter in 2/4, 3/4, 4/4, a
  dotted quarter in compound meters (6/8, 9/8, 12/8, and 3/8 whose one beat
  is the bar), a half note in 2/2, 3/2, 4/2. This is the tactus the score
  notates; MIR tempo and beats are scored at this level;
- `downbeats`: the first beat of every complete bar (a pickup has none);
- `key`: tonic + major/minor (`score_key`). music21's key analysis of the
  rendered excerpt (`Stream.analyze('key')`, Aarden-Essen profiles) ranks
  the keys; of its 4 best, the best whose tonic is the piece's final (the
  lowest note of the score's last sonority: the finalis) is the key, else
  the best outright. The notated signature alone is not used: it does not
  give the mode and is often modal (Bach's Dorian signatures, Essen and
  Irish modal tunes); the analysis alone confuses relative and
  fifth-related keys, which share their notes. `key_analysis` and
  `finalis` are recorded too;
- `chords`: the chordified score, triads in Harte syntax, `X` otherwise.
"""

from __future__ import annotations

import fnmatch
import random
import re
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from musicflamingo.schemas import PITCH_CLASSES


# Bump when the ground-truth conventions change: cached sidecars are re-derived from their scores.
TRUTH_VERSION = 2
KEY_SOURCE = (
    "music21 key analysis (Stream.analyze('key'), Aarden-Essen) of the rendered excerpt; of its 4 best"
    " interpretations, the best whose tonic is the piece's final (lowest note of the last sonority)"
)


class PieceRejected(Exception):
    """A score that cannot become a trustworthy demo piece (logged, not rendered)."""


class RenderError(Exception):
    """FluidSynth failed, ran past its time limit or wrote past its size limit."""


@dataclass(frozen=True)
class PieceSpec:
    corpus_path: str  # relative to music21's corpus root
    number: int | None  # tune number inside an ABC opus file
    tradition: str
    gm_program: int
    tempo_bpm: int
    voice: str | None = None  # espeak-ng voice that sings the score's lyrics; None = instrumental

    @property
    def piece_id(self) -> str:
        stem = re.sub(r"[^A-Za-z0-9]+", "_", self.corpus_path.rsplit(".", 1)[0]).strip("_")
        return f"{stem}_{self.number}" if self.number is not None else stem


GM_NAMES = {
    0: "acoustic grand piano", 6: "harpsichord", 12: "marimba", 19: "church organ",
    24: "nylon-string guitar", 40: "violin", 48: "string ensemble", 52: "choir aahs",
    71: "clarinet", 73: "flute", 42: "cello", 56: "trumpet", 68: "oboe", 46: "harp",
}


def _corpus_root() -> Path:
    from music21 import corpus

    return Path(corpus.__file__).resolve().parent.parent / "corpus"


def _abc_tune_numbers(path: Path) -> list[int]:
    text = path.read_text(encoding="latin-1", errors="replace")
    return [int(m) for m in re.findall(r"^X:\s*(\d+)", text, flags=re.M)]


def candidates(glob: str) -> list[tuple[str, int | None]]:
    """All (corpus path, tune number) pairs a source glob names."""
    root = _corpus_root()
    out: list[tuple[str, int | None]] = []
    for p in sorted(root.glob(glob.split("/")[0] + "/**/*")):
        rel = p.relative_to(root).as_posix()
        if not fnmatch.fnmatch(rel, glob):
            continue
        if p.suffix == ".abc":
            nums = _abc_tune_numbers(p)
            if len(nums) > 1:
                out.extend((rel, n) for n in nums)
                continue
        out.append((rel, None))
    return out


def plan(sources: list[dict], num_pieces: int, gm_programs: list[int], tempo_range: list[int], seed: int):
    """Yield PieceSpecs round-robin over the traditions, deterministic in `seed`.

    Yields more than `num_pieces` candidates so the caller can skip scores
    that fail (for example, repeats that music21 cannot expand).
    """
    rng = random.Random(seed)
    pools = []
    for src in sources:
        pool = candidates(src["glob"])
        rng.shuffle(pool)
        pools.append((src, pool))
    i = 0
    while any(pool for _, pool in pools):
        for src, pool in pools:
            if not pool:
                continue
            path, number = pool.pop()
            yield PieceSpec(
                corpus_path=path,
                number=number,
                tradition=src["tradition"],
                gm_program=gm_programs[i % len(gm_programs)],
                tempo_bpm=rng.randrange(tempo_range[0], tempo_range[1] + 1, 2),
                voice=src.get("voice"),
            )
            i += 1


def _pitch_class_name(pitch) -> str:
    return PITCH_CLASSES[pitch.pitchClass]


def _harte(chord) -> str:
    quality = {"major": "maj", "minor": "min", "diminished": "dim", "augmented": "aug"}.get(chord.quality)
    if quality is None or len(chord.pitchClasses) < 3:
        return "X"  # not a triad (passing sonority, dyad): unknown, not guessed
    return f"{_pitch_class_name(chord.root())}:{quality}"


def prepare(spec: PieceSpec, max_seconds: float):
    """Parse, expand repeats, set tempo and instrument, truncate; return (score, truth dict)."""
    from music21 import corpus, instrument, meter, stream, tempo

    try:
        score = corpus.parse(spec.corpus_path, number=spec.number) if spec.number is not None else corpus.parse(spec.corpus_path)
    except Exception as e:  # music21 raises many types on odd files
        raise PieceRejected(f"music21 cannot parse it: {e}") from e
    if isinstance(score, stream.Opus):
        score = score.scores[0]
    if not isinstance(score, stream.Score):
        score = stream.Score([score]) if isinstance(score, stream.Part) else score
    try:
        score = score.expandRepeats()
    except Exception as e:
        raise PieceRejected(f"repeats cannot be expanded: {e}") from e

    for mm in list(score.recurse().getElementsByClass(tempo.TempoIndication)):
        mm.activeSite.remove(mm)
    for inst in list(score.recurse().getElementsByClass(instrument.Instrument)):
        inst.activeSite.remove(inst)

    seconds_per_quarter = 60.0 / spec.tempo_bpm
    max_quarters = max_seconds / seconds_per_quarter
    parts = list(score.parts)
    if not parts:
        raise PieceRejected("score has no parts")
    final_pc = finalis(score)  # the whole piece's final, before truncation
    measures = list(parts[0].getElementsByClass(stream.Measure))
    if not measures:
        raise PieceRejected("score has no measures")
    last = measures[0].number
    for m in measures:
        if m.offset + m.duration.quarterLength > max_quarters:
            break
        last = m.number
    if measures[-1].number != last:
        score = score.measures(measures[0].number, last)
    parts = list(score.parts)
    gm_name = GM_NAMES.get(spec.gm_program, f"GM program {spec.gm_program}")
    for part in parts:
        # A bare Instrument, not music21's Clarinet etc.: those carry a
        # transposition that MIDI export would apply, moving the key.
        inst = instrument.Instrument(instrumentName=gm_name)
        inst.midiProgram = spec.gm_program
        part.insert(0, inst)
    parts[0].insert(0, tempo.MetronomeMark(number=spec.tempo_bpm, referent=1.0))

    ts = next(iter(score.recurse().getElementsByClass(meter.TimeSignature)), None)
    analysed = score.analyze("key")
    chosen = score_key(analysed, final_pc)
    key_name = f"{_pitch_class_name(chosen.tonic)} {chosen.mode}"
    total_quarters = float(score.highestTime)
    if total_quarters <= 0:
        raise PieceRejected("score is empty after truncation")

    chords: list[list] = []
    chordified = score.chordify()
    for c in chordified.recurse().getElementsByClass("Chord"):
        start = float(c.getOffsetInHierarchy(chordified)) * seconds_per_quarter
        end = start + float(c.duration.quarterLength) * seconds_per_quarter
        label = _harte(c)
        if chords and chords[-1][2] == label and abs(chords[-1][1] - start) < 1e-3:
            chords[-1][1] = end
        else:
            chords.append([round(start, 4), round(end, 4), label])

    beats, downbeats, beat_quarters = _beat_grid(parts[0], seconds_per_quarter)
    words = _lyric_words(parts, seconds_per_quarter) if spec.voice else []

    meta = score.metadata
    truth = {
        "piece_id": spec.piece_id,
        "spec": asdict(spec),
        "title": (meta.title if meta and meta.title else spec.piece_id),
        "tradition": spec.tradition,
        "tempo_bpm": float(spec.tempo_bpm),
        "time_signature": ts.ratioString if ts else None,
        "key": key_name,
        "key_source": KEY_SOURCE,
        "key_analysis": f"{_pitch_class_name(analysed.tonic)} {analysed.mode}",
        "finalis": PITCH_CLASSES[final_pc] if final_pc is not None else None,
        "truth_version": TRUTH_VERSION,
        "instruments": [gm_name],
        "gm_program": spec.gm_program,
        "duration_s": round(total_quarters * seconds_per_quarter, 4),
        "chords": [[s, e, lab] for s, e, lab in chords],
        # Notated beats (the time signature's beat unit: a dotted quarter in 6/8, a half in 2/2) and bar starts;
        # `beat_bpm` is the tempo at that level, the one MIR tempo estimates are scored against.
        "beat_bpm": round(spec.tempo_bpm / beat_quarters, 4),
        "beats": beats,
        "downbeats": downbeats,
        # Filled in by `vocals.sing` when the piece is sung: the words with their exact placement.
        "vocals": False,
        "voice": None,
        "lyrics": "",
        "words": [],
        "lyric_notes": words,
        "repeats_expanded": True,
        "num_parts": len(parts),
    }
    return score, truth


def finalis(score) -> int | None:
    """Pitch class of the piece's final: the lowest note sounding as the last note ends (trailing rests ignored)."""
    notes = [n for part in score.parts for n in part.flatten().notes]
    if not notes:
        return None
    span = lambda n: (float(n.getOffsetInHierarchy(score)), float(n.getOffsetInHierarchy(score)) + float(n.duration.quarterLength))  # noqa: E731
    end = max(span(n)[1] for n in notes)
    last = [p for n in notes if span(n)[0] < end - 1e-3 and span(n)[1] >= end - 1e-3 for p in n.pitches]
    return min(last, key=lambda p: p.ps).pitchClass if last else None


def score_key(analysed, final_pc: int | None, candidates: int = 4):
    """The key by the sidecar convention: of music21's `candidates` best key interpretations
    (Aarden-Essen correlation), the best one whose tonic is the piece's final; the best one
    outright when none is. Analysis alone confuses relative and fifth-related keys, which share
    their notes; the final settles which note is the tonic (the classical finalis rule)."""
    ranked = sorted([analysed, *analysed.alternateInterpretations], key=lambda k: -k.correlationCoefficient)[:candidates]
    return next((k for k in ranked if final_pc is not None and k.tonic.pitchClass == final_pc), analysed)


def _beat_grid(part, seconds_per_quarter: float) -> tuple[list[float], list[float], float]:
    """Beat and downbeat times (s) from the measures and time signatures of one part.

    A pickup measure (`paddingLeft`) has beats but no downbeat. Returns the
    first meter's beat length in quarters too (1.5 in 6/8, 2 in 2/2).
    """
    from music21 import stream

    beats: list[float] = []
    downbeats: list[float] = []
    ts = None
    first_beat_q = None
    for m in part.getElementsByClass(stream.Measure):
        ts = m.timeSignature or ts
        if ts is None:
            continue
        beat_q = float(ts.beatDuration.quarterLength)
        first_beat_q = first_beat_q or beat_q
        start, pad, length = float(m.offset), float(m.paddingLeft), float(m.duration.quarterLength)
        pos = 0.0
        while pos < float(ts.barDuration.quarterLength) - 1e-6:
            t = start + pos - pad
            if start - 1e-6 <= t < start + length - 1e-6:
                beats.append(round(t * seconds_per_quarter, 4))
                if pos == 0.0 and pad == 0.0:
                    downbeats.append(round(t * seconds_per_quarter, 4))
            pos += beat_q
    return beats, downbeats, first_beat_q or 1.0


_CLEAN = re.compile(r"[^\w']+")


def _lyric_words(parts, seconds_per_quarter: float) -> list[list]:
    """Words of the first verse in the part that carries most lyrics: [[start_s, end_s, word, midi_pitch]].

    Syllables (`begin`/`middle`/`end`) are joined into words; a word spans its
    first syllable's onset to its last syllable's end.
    """
    best = max(parts, key=lambda p: sum(1 for n in p.recurse().notes if n.lyrics), default=None)
    if best is None:
        return []
    words: list[list] = []
    open_word = None
    for n in best.flatten().notes:
        if not n.lyrics or n.isChord:
            continue
        lyr = n.lyrics[0]
        text = _CLEAN.sub("", (lyr.text or "").replace("\xad", "")).lower()
        if not text:
            continue
        start = float(n.offset) * seconds_per_quarter
        end = start + float(n.duration.quarterLength) * seconds_per_quarter
        if lyr.syllabic in ("middle", "end") and open_word is not None:
            open_word[1], open_word[2] = end, open_word[2] + text
        else:
            open_word = [start, end, text, int(n.pitch.midi)]
            words.append(open_word)
        if lyr.syllabic in ("single", "end", None):
            open_word = None
    return [[round(s, 4), round(e, 4), w, p] for s, e, w, p in words]


def write_midi(score, path: Path) -> None:
    try:
        score.write("midi", fp=str(path))
    except Exception as e:  # music21 fails on some hierarchies (duplicate meters, ...)
        raise PieceRejected(f"music21 cannot write MIDI: {e}") from e


def render(midi: Path, wav: Path, soundfont: Path, sample_rate: int, timeout_s: float, max_bytes: int) -> None:
    """Render MIDI to WAV with FluidSynth, bounded in time and output size.

    Some scores produce MIDI on which FluidSynth never stops (one wrote a
    38 GB file), so the output is watched while it grows and the child is
    killed past `max_bytes` or `timeout_s`. (RLIMIT_FSIZE is no use here:
    libsndfile trips it on a header seek even for small files.)
    """
    cmd = ["fluidsynth", "-ni", "-q", "-g", "0.7", "-r", str(sample_rate), "-T", "wav", "-F", str(wav), str(soundfont), str(midi)]
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except FileNotFoundError as e:
        raise RenderError("fluidsynth is not installed (apt-get install fluidsynth)") from e
    deadline = time.monotonic() + timeout_s
    problem = None
    while proc.poll() is None:
        if time.monotonic() > deadline:
            problem = f"fluidsynth ran past {timeout_s} s"
        elif wav.exists() and wav.stat().st_size > max_bytes:
            problem = f"fluidsynth output passed {max_bytes} bytes"
        if problem:
            proc.kill()
            proc.wait()
            wav.unlink(missing_ok=True)
            raise RenderError(problem)
        time.sleep(0.05)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0 or not wav.exists() or wav.stat().st_size <= 44:
        wav.unlink(missing_ok=True)
        raise RenderError(f"fluidsynth exit {proc.returncode}: {err[-300:]}")


# Settings that choose *which* pieces are used, not how each one sounds: they stay out of the render cache key.
NOT_RENDER_SETTINGS = ("enabled", "num_pieces", "corpus_size")


def render_cache_key(demo: dict, seed: int) -> str:
    import hashlib
    import json

    relevant = {k: v for k, v in demo.items() if k not in NOT_RENDER_SETTINGS}
    return hashlib.sha256(json.dumps([relevant, seed], sort_keys=True, default=str).encode()).hexdigest()[:16]


def render_piece(spec: PieceSpec, item: Path, demo: dict) -> dict:
    """Prepare, render (and voice, if the piece is sung) one piece into `item/`; return its truth.

    Cached: a piece with `audio.wav` + `truth.json` is not redone. Raises
    PieceRejected (score unusable; remembered in `rejected.txt`) or RenderError.
    """
    from musicflamingo.audio import vocals
    from musicflamingo.io import atomic_path, read_json, write_json

    wav, truth_file, rejected_file = item / "audio.wav", item / "truth.json", item / "rejected.txt"
    if rejected_file.exists():
        raise PieceRejected(rejected_file.read_text())
    if wav.exists() and truth_file.exists():
        truth = read_json(truth_file)
        if truth.get("truth_version") != TRUTH_VERSION:  # older conventions: re-derive from the score, keep the audio and its vocals
            _, fresh = prepare(spec, demo["max_seconds"])
            fresh.pop("lyric_notes")
            truth = fresh | {k: truth[k] for k in ("vocals", "voice", "words", "lyrics") if k in truth}
            write_json(truth_file, truth)
        return truth
    item.mkdir(parents=True, exist_ok=True)
    try:
        score, truth = prepare(spec, demo["max_seconds"])
        with atomic_path(item / "score.mid") as midi:
            write_midi(score, midi)
        # A healthy render is the score's length plus a release tail; far beyond that
        # FluidSynth is looping on a broken MIDI file, so stop it early.
        sr = int(demo["sample_rate"])
        expected = int((truth["duration_s"] + 10) * sr * 4) + 1024
        with atomic_path(wav) as tmp_wav:
            render(item / "score.mid", tmp_wav, Path(demo["soundfont"]), sr, demo["render_timeout_s"], min(expected, demo["render_max_bytes"]))
            notes = truth.pop("lyric_notes")
            if spec.voice and len(notes) >= int(demo.get("min_sung_words", 4)):
                import soundfile as sf

                voice, words = vocals.sing(notes, spec.voice, sr, sf.info(str(tmp_wav)).frames)
                vocals.mix_into(tmp_wav, voice, float(demo.get("vocal_gain_db", 3.0)))
                truth.update(vocals=True, voice=spec.voice, words=words, lyrics=" ".join(w for _, _, w in words))
    except PieceRejected as e:
        rejected_file.write_text(str(e))
        raise
    except (RenderError, vocals.VocalError) as e:
        rejected_file.write_text(str(e))
        raise RenderError(str(e)) from e
    write_json(truth_file, truth)
    return truth


def render_corpus(demo: dict, seed: int, cache: Path, count: int, desc: str = "render demo corpus"):
    """Yield (wav, truth) for the first `count` usable pieces of the deterministic plan.

    Failed renders are yielded as (None, reason-string spec) so the caller can
    quarantine them; rejected scores are skipped (they never had audio).
    """
    from tqdm import tqdm

    root = Path(cache) / render_cache_key(demo, seed)
    specs = plan(list(demo["sources"]), count, list(demo["gm_programs"]), list(demo["tempo_bpm_range"]), seed)
    done = 0
    with tqdm(total=count, desc=desc, unit="piece") as bar:
        for spec in specs:
            if done >= count:
                return
            try:
                truth = render_piece(spec, root / spec.piece_id, demo)
            except PieceRejected:
                continue
            except RenderError as e:
                yield None, (spec, str(e))
                continue
            done += 1
            bar.update(1)
            yield root / spec.piece_id / "audio.wav", truth
