"""Typed records passed between stages. The Great Expectations suites are
built from these schemas (see `expectations.py`)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, Field

from musicflamingo.pitch import KEYS_24, PITCH_CLASSES  # noqa: F401  (re-exported: the schemas' key vocabulary)


class Track(BaseModel):
    """One decoded, validated audio file (a row of `data/raw_audio/tracks.jsonl`)."""

    id: str = Field(description="sha256 of the file bytes")
    path: str = Field(description="audio path relative to the project root")
    source: str = Field(description="'demo' or 'input'")
    duration_s: float
    sample_rate: int
    channels: int
    licence: str = "unknown"
    title: Optional[str] = None
    tags: dict = Field(default_factory=dict, description="catalogue tags: tradition, instruments, ...")
    truth: Optional[str] = Field(default=None, description="ground-truth sidecar path, demo pieces only")


class Segment(BaseModel):
    track_id: str
    index: int
    start_s: float
    end_s: float
    partial: bool


class QuarantineRow(BaseModel):
    path: str
    reason: str
    stage: str
    sha256: Optional[str] = None


class MirFacts(BaseModel):
    """Per-track MIR facts (a row of `data/mir_metadata/tracks.jsonl`). Times in seconds."""

    track_id: str
    path: str
    duration_s: float
    tempo_bpm: float
    tempo_confidence: Optional[float]
    time_signature: str
    beats: list[float]
    downbeats: list[float]
    key: str
    key_confidence: Optional[float]
    chords: list[tuple[float, float, str]] = Field(description="[start_s, end_s, Harte label]")
    tools: dict = Field(default_factory=dict, description="tool name -> version/settings used")
    segments: list[dict] = Field(default_factory=list)
    # Richer facts (optional: absent or null = not known, never invented).
    tempo_alternatives: list[float] = Field(default_factory=list, description="other plausible tempi (BPM), best first")
    key_alternatives: list[tuple[str, float]] = Field(default_factory=list, description="[key, score], best first")
    meter_confidence: Optional[float] = Field(None, description="share of bars holding the stated number of beats")
    chord_confidence: Optional[float] = Field(None, description="mean share of chord tools agreeing with the fused chord")
    harmonic_rhythm: Optional[float] = Field(None, description="chord changes per bar")
    sections: list[tuple[float, float, str]] = Field(default_factory=list, description="[start_s, end_s, label A/B/...]")
    section_keys: list[tuple[float, float, str]] = Field(default_factory=list, description="[start_s, end_s, key]; a change is a modulation")
    loudness_lufs: Optional[float] = Field(None, description="EBU R128 integrated loudness")
    loudness_range_lu: Optional[float] = Field(None, description="EBU R128 loudness range (dynamic range)")
    brightness_hz: Optional[float] = Field(None, description="mean spectral centroid")
    onset_density: Optional[float] = Field(None, description="onsets per second")
    vocals: Optional[bool] = Field(None, description="True only when vocals_state is 'yes', False only when 'no', else None")
    vocals_state: Optional[Literal["yes", "no", "unknown"]] = Field(None, description="calibrated vocal detector (musicnn)")
    vocal_confidence: Optional[float] = Field(None, description="probability of the stated vocals_state")
    vocal_score: Optional[float] = Field(None, description="calibrated P(sung)")
    lyrics: str = ""
    words: list[tuple[float, float, str]] = Field(default_factory=list, description="[start_s, end_s, word]: confident ASR words only")
    word_probabilities: list[float] = Field(default_factory=list, description="ASR probability of each entry of `words`")
    lyrics_state: Optional[Literal["known", "unknown"]] = Field(None, description="unknown: no ASR, or not confident (language, words)")
    lyrics_language: Optional[str] = None
    instruments: list[tuple[str, str, float]] = Field(default_factory=list, description="[tagger tag, GM family, probability] above threshold")
    genres: list[tuple[str, float]] = Field(default_factory=list, description="[tag, probability] above threshold")
    moods: list[tuple[str, float]] = Field(default_factory=list, description="[tag, probability] above threshold")
    per_tool: dict = Field(default_factory=dict, description="tool -> its own raw estimates (tempo_bpm, beats, key, chords, ...)")
    timings_s: dict = Field(default_factory=dict, description="seconds spent per tool on this track")
    nonfinite: Optional[dict] = Field(None, description="fields a tool returned as NaN/Inf, stored as null, with the reason")


class Turn(BaseModel):
    from_: Literal["human", "gpt"] = Field(alias="from")
    value: str

    model_config = {"populate_by_name": True}


class Conversation(BaseModel):
    """Audio Flamingo conversation format, plus the fields we need for audit and scoring."""

    id: str
    sound: str
    duration: float
    conversations: list[Turn]
    track_id: str
    task: Literal["caption", "mcq", "open", "think"]
    options: Optional[list[str]] = None
    answer: Optional[str] = None
    answer_letter: Optional[str] = None
    fact_ids: list[str] = Field(default_factory=list)
    skill: Optional[str] = Field(default=None, description="caption or a skill family: temporal, attribute, harmony, lyric_vocal, structural")
    qtype: Optional[str] = Field(default=None, description="question type within the skill family, e.g. chord_at_time")

    def dump(self) -> dict:
        return self.model_dump(by_alias=True, mode="json", exclude_none=True)
