"""`data` (the raw_audio stage), `skills` (mf_skills) and `think` (mf_think)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from musicflamingo.configs.base import Fraction, NonNegInt, PositiveFloat, PositiveInt, Section


class DemoSource(Section):
    tradition: str = Field(description="Label of the tradition the matched scores belong to (a catalogue tag).")
    glob: str = Field(description="music21 corpus path pattern, e.g. 'bach/bwv*.mxl'.")
    voice: str | None = Field(None, description="espeak-ng voice that sings the score's lyrics; absent: instrumental.")


class Demo(Section):
    enabled: bool = Field(description="Render the embedded demo corpus from music21 scores.")
    corpus_size: PositiveInt = Field(description="Pieces in the deterministic corpus plan (the benchmark renders all).")
    num_pieces: PositiveInt = Field(description="Pieces of that plan the run uses (its first ones).")
    sources: list[DemoSource] = Field(min_length=1, description="music21 corpus queries, taken round-robin.")
    min_sung_words: NonNegInt = Field(description="Fewer lyric words than this: the piece stays instrumental.")
    vocal_gain_db: float = Field(description="Sung line's RMS above the accompaniment's, dB.")
    gm_programs: list[Annotated[int, Field(ge=0, le=127)]] = Field(min_length=1, description="General MIDI programs (0-127) varying timbre.")
    tempo_bpm_range: tuple[PositiveFloat, PositiveFloat] = Field(description="Rendered tempo drawn from [low, high] BPM.")
    soundfont: str = Field(description="SF2 soundfont FluidSynth renders with.")
    sample_rate: PositiveInt = Field(description="Render sample rate, Hz.")
    max_seconds: PositiveFloat = Field(description="Cap on the rendered length, s (scores are cut at a measure).")
    render_timeout_s: PositiveFloat = Field(description="Wall-clock bound of one FluidSynth render, s.")
    render_max_bytes: PositiveInt = Field(description="Size bound of one rendered file, bytes.")

    @model_validator(mode="after")
    def _consistent(self):
        if self.num_pieces > self.corpus_size:
            raise ValueError(f"num_pieces ({self.num_pieces}) exceeds corpus_size ({self.corpus_size})")
        if self.tempo_bpm_range[0] > self.tempo_bpm_range[1]:
            raise ValueError(f"tempo_bpm_range {list(self.tempo_bpm_range)} is not [low, high]")
        return self


class AudioLimits(Section):
    """Input checks: a file failing one becomes a quarantine row with that reason."""

    decode_timeout_s: PositiveFloat = Field(description="Wall-clock bound of decoding one file, s.")
    max_file_bytes: PositiveInt = Field(description="Larger files are refused before decoding, bytes.")
    min_duration_s: PositiveFloat = Field(description="Shorter audio is quarantined, s.")
    max_duration_s: PositiveFloat = Field(description="Longer audio is quarantined (decoding stops at the cap), s.")
    silence_dbfs: float = Field(le=0, description="Silent = no 100 ms window of any channel above this, dBFS (DC removed).")

    @model_validator(mode="after")
    def _durations(self):
        if self.min_duration_s >= self.max_duration_s:
            raise ValueError(f"min_duration_s ({self.min_duration_s}) must be below max_duration_s ({self.max_duration_s})")
        return self


class Data(AudioLimits):
    """raw_audio: the demo corpus plus the user's audio, validated and indexed by segment."""

    demo: Demo
    input_dir: str = Field(description="Folder (or manifest) of the user's audio, relative to the project root.")
    segment_s: PositiveFloat = Field(description="Segment index window, s (a tail under 1 s joins the window before it).")


class Tolerances(Section):
    """Claim-level checker tolerances (musicflamingo.data.factcheck.Tolerances)."""

    bpm_relative: Fraction = Field(description="A stated tempo within this share of the fused tempo is right (x2, /2 are wrong).")
    time_s: PositiveFloat = Field(description="Stated times vs section boundaries, chord and word positions, s.")
    lufs: PositiveFloat = Field(description="Stated loudness vs integrated loudness, LU.")
    min_factuality: Fraction = Field(description="Items below this share of supported claims are repaired or dropped.")


class Band(Section):
    """Confidence band of one fact kind: at or above `assert` stated, at or above `hedge` hedged, below omitted."""

    assert_: Fraction | None = Field(alias="assert", description="Confidence at or above which the fact is stated (null: never stated, at most hedged).")
    hedge: Fraction = Field(description="Confidence at or above which the fact is hedged ('probably in A minor').")

    @model_validator(mode="after")
    def _order(self):
        if self.assert_ is not None and self.hedge > self.assert_:
            raise ValueError(f"hedge ({self.hedge}) must not exceed assert ({self.assert_})")
        return self


FactKind = Literal["tempo", "key", "meter", "chords", "vocals", "lyrics", "instruments", "genres", "moods"]


class Skills(Section):
    """mf_skills: fact-checked captions and five-skill QA, split by track."""

    heldout_fraction: float = Field(ge=0, lt=1, description="Share of tracks (by content hash) kept out of every training stage.")
    min_heldout_tracks: NonNegInt = Field(description="At least this many held-out tracks whatever the fraction.")
    mcq_per_track: NonNegInt = Field(description="At most this many four-option questions per track.")
    open_per_track: NonNegInt = Field(description="At most this many open questions per track.")
    repair: bool = Field(description="A caption contradicting the facts loses those sentences (false: it is dropped).")
    factcheck: Tolerances
    judge: dict[str, Any] | None = Field(description="Optional LLM judge on top of the rule checker: a chat-backend node like conf/llm/openai.yaml.")
    confidence: dict[FactKind, Band] | None = Field(None, description="Per fact kind, the confidence band that states, hedges or omits it (data.known.gate).")


class Think(Section):
    """mf_think: chain-of-thought samples for a subset of MF-Skills' training MCQs."""

    fraction: Fraction = Field(description="Besides every hard item, this share of the other training MCQs gets a chain of thought.")
    max_bad_step_fraction: Fraction = Field(description="A sample with more contradicted steps than this share is dropped.")
