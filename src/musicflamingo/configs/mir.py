"""`mir` (the mir_metadata stage and `musicflamingo mir annotate`): tools, fusion, workers, time limits."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from musicflamingo.configs.base import Fraction, NonNegFloat, NonNegInt, PositiveFloat, PositiveInt, Section
from musicflamingo.configs.data import AudioLimits


class Validate(AudioLimits):
    max_clipped_fraction: Fraction = Field(description="Share of samples in full-scale runs above which a file is 'clipped'.")


class Beats(Section):
    tool: Literal["madmom_downbeats"] = Field(description="Beat and downbeat tracker (madmom RNN downbeat network + DBN).")
    beats_per_bar: list[PositiveInt] = Field(min_length=1, description="Bar lengths the DBN considers.")
    min_bpm: PositiveFloat = Field(description="Lowest tempo of the DBN's state space, BPM.")
    max_bpm: PositiveFloat = Field(description="Highest tempo of the DBN's state space, BPM.")
    num_tempi: PositiveInt = Field(description="Tempo states of the DBN (its cost grows with them).")
    networks: int = Field(ge=1, le=8, description="BLSTMs of madmom's 8-network downbeat ensemble that are averaged.")

    @model_validator(mode="after")
    def _range(self):
        if self.min_bpm >= self.max_bpm:
            raise ValueError(f"beats.min_bpm ({self.min_bpm}) must be below max_bpm ({self.max_bpm})")
        return self


class Tempo(Section):
    essentia: bool = Field(description="RhythmExtractor2013 (degara) as the second tempo opinion.")


KeyProfile = Literal["bgate", "temperley", "krumhansl", "edma", "edmm", "shaath", "noland", "diatonic", "tonictriad", "faraldo", "pentatonic", "bmtg"]


class Key(Section):
    profile: KeyProfile = Field(description="essentia KeyExtractor profile of essentia's own key (per_tool.essentia).")
    profiles: list[KeyProfile] = Field(min_length=1, description="essentia profiles voted into the fused key.")


class Notes(Section):
    """basic-pitch note transcription: key and chord evidence (mir/notes.py)."""

    enabled: bool = Field(description="Transcribe notes and add their evidence to the key and chord votes.")
    onset_threshold: Fraction = Field(description="basic-pitch note onset threshold.")
    frame_threshold: Fraction = Field(description="basic-pitch frame activation threshold.")
    min_note_frames: PositiveInt = Field(description="Shortest note, frames (86 per second).")


class TempoFusion(Section):
    prior_bpm: PositiveFloat = Field(description="Centre of the log-tempo prior, BPM.")
    prior_octaves: PositiveFloat = Field(description="Width of the log-tempo prior, octaves.")
    madmom_weight: NonNegFloat = Field(description="Vote of madmom's tempo.")
    essentia_weight: NonNegFloat = Field(description="Vote of essentia's tempo.")
    octave_support: NonNegFloat = Field(description="Support a tool lends to x2 and x1/2 of its estimate.")
    triple_support: NonNegFloat = Field(description="Support a tool lends to x3/2 and x2/3 of its estimate.")
    confidence_sharpness: PositiveFloat = Field(description="Softmax sharpness turning scores into a confidence.")
    ternary_weight: NonNegFloat = Field(description="Weight of the beat-subdivision vote for compound meter.")
    ternary_threshold: NonNegFloat = Field(description="Subdivision score above which the meter is compound.")


class KeyFusion(Section):
    cnn_weight: NonNegFloat = Field(description="Vote of madmom's CNN key.")
    essentia_weight: NonNegFloat = Field(description="Vote of the essentia profiles.")
    chroma_weight: NonNegFloat = Field(description="Vote of the deep-chroma key correlation.")
    chroma_sharpness: PositiveFloat = Field(description="Softmax sharpness of the chroma correlations.")
    tonic_chord_weight: NonNegFloat = Field(description="Vote of the time spent on each key's tonic triad.")
    final_chord_weight: NonNegFloat = Field(description="Vote of the final chord.")
    notes_weight: NonNegFloat | None = Field(None, description="Vote of basic-pitch's pitch-class profile (with mir.notes).")


class ChordFusion(Section):
    tool_weights: dict[Literal["chordino", "madmom_chords", "madmom_deepchroma", "basic_pitch"], NonNegFloat] = Field(description="Vote of each chord tool.")
    chroma_weight: NonNegFloat = Field(description="Vote of the chroma template match.")
    key_weight: NonNegFloat = Field(description="Prior for chords diatonic to the fused key.")


class Fusion(Section):
    tempo: TempoFusion
    key: KeyFusion
    chords: ChordFusion


class Sections(Section):
    kernel_bars: PositiveInt = Field(description="Foote checkerboard kernel width, bars.")
    min_bars: PositiveInt = Field(description="Shortest section, bars.")
    novelty_std: NonNegFloat = Field(description="Peak threshold: mean + this x std of the novelty curve.")
    same_label_similarity: Fraction = Field(description="Sections at least this similar share a label.")
    min_section_s: PositiveFloat = Field(description="Shorter sections keep the global key, s.")
    stay_bonus: NonNegFloat = Field(description="Correlation bonus for the global key (no spurious modulations).")


class Vocals(Section):
    platt_a: float = Field(description="Platt scaling slope: musicnn vocal evidence -> P(sung).")
    platt_b: float = Field(description="Platt scaling offset.")
    yes_probability: Fraction = Field(description="P(sung) at or above: vocals 'yes' (ASR runs).")
    no_probability: Fraction = Field(description="P(sung) at or below: 'no'; between the two: 'unknown' (nothing claimed).")

    @model_validator(mode="after")
    def _order(self):
        if self.no_probability >= self.yes_probability:
            raise ValueError(f"vocals.no_probability ({self.no_probability}) must be below yes_probability ({self.yes_probability})")
        return self


class Tagger(Section):
    instrument_threshold: Fraction = Field(description="musicnn MagnaTagATune instrument tags at or above this become facts.")
    genre_threshold: Fraction = Field(description="Genre tags at or above this become facts.")
    mood_threshold: Fraction = Field(description="Mood tags at or above this become facts.")


class FasterWhisper(Section):
    compute_type: str = Field(description="CTranslate2 compute type (int8, float16, ...).")
    beam_size: PositiveInt = Field(description="Beam width (1 = greedy).")
    temperature: list[NonNegFloat] = Field(min_length=1, description="Fallback temperatures, tried in order.")
    vad: bool = Field(description="Silero VAD shipped in faster-whisper.")
    vad_parameters: dict[str, Any] = Field(description="Extra VadOptions.")
    no_speech_threshold: Fraction = Field(description="Whisper's no-speech probability above which a segment is silence.")
    compression_ratio_threshold: PositiveFloat = Field(description="Whisper's failed-decode test (gzip ratio).")


class Pocketsphinx(Section):
    maxhmmpf: PositiveInt = Field(description="Max active HMMs per frame.")
    maxwpf: PositiveInt = Field(description="Max distinct words per frame.")
    pl_window: NonNegInt = Field(description="Phoneme lookahead window, frames.")
    ds: PositiveInt = Field(description="Frame downsampling ratio.")
    topn: PositiveInt = Field(description="Gaussians scored per frame.")


class Asr(Section):
    backend: Literal["faster_whisper", "whisper", "pocketsphinx", "none"] = Field(description="Lyrics ASR; runs only where vocals are 'yes'.")
    model_path: str | None = Field(description="Local CTranslate2 Whisper folder; null = the bundled tiny.en.")
    language: str | None = Field(description="Force a language; null = the model's own.")
    min_word_probability: Fraction = Field(description="A word below this is heard but never a fact.")
    min_language_probability: Fraction = Field(description="Language detection below this: lyrics unknown.")
    min_confident_share: Fraction = Field(description="Fewer confident words than this share: lyrics unknown.")
    trust_unscored: bool = Field(description="Keep words of backends without word probabilities.")
    faster_whisper: FasterWhisper
    pocketsphinx: Pocketsphinx
    whisper_path: str | None = Field(description="Local transformers Whisper checkpoint (backend whisper).")


class Mir(Section):
    """mir_metadata: fused MIR facts per track and per window."""

    jobs: NonNegInt = Field(description="Worker processes; 0 = all cores.")
    track_timeout_s: PositiveFloat = Field(description="Per-track limit = this + timeout_per_audio_s x duration; the worker is killed at it, s.")
    timeout_per_audio_s: NonNegFloat = Field(description="Seconds of limit per second of audio.")
    tasks_per_worker: PositiveInt = Field(description="Recycle workers after this many tracks (returns memory).")
    sample_rate: PositiveInt = Field(description="Analysis sample rate (madmom's networks were trained at 44.1 kHz), Hz.")
    chordino_sample_rate: PositiveInt = Field(description="Chordino's input sample rate, Hz.")
    chordino_block_size: PositiveInt | None = Field(None, description="Chordino's FFT frame, samples at chordino_sample_rate; null = the plugin's (16384).")
    chordino_step_size: PositiveInt | None = Field(None, description="Chordino's NNLS-chroma hop, samples at chordino_sample_rate; null = the plugin's (2048).")
    loudness_sample_rate: PositiveInt = Field(description="EBU R128 loudness input rate, Hz (K-weighting is defined per rate).")
    chunk_s: PositiveFloat = Field(description="madmom's networks run on chunks this long (+5 s context), s.")
    segment_s: PositiveFloat = Field(description="Per-window facts (`segments`), s.")
    validate_: Validate = Field(alias="validate", description="Input checks (quarantine reasons).")
    beats: Beats
    tempo: Tempo
    key: Key
    notes: Notes | None = Field(None, description="basic-pitch note evidence; absent: no note transcription.")
    fusion: Fusion
    sections: Sections
    vocals: Vocals
    tagger: Tagger
    asr: Asr
