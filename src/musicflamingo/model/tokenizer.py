"""An offline byte-level BPE tokenizer for the tiny Music Flamingo.

Contract:
- `music_corpus()` is a deterministic list of lines built only from music
  vocabulary (note, key and chord names, meters, tempi, instruments, numbers,
  option letters, think/answer phrasing). It never reads upstream data, so the
  backbone (and its tokenizer hash) does not change when the data does.
- `train_tokenizer(vocab_size)` returns a `PreTrainedTokenizerFast` whose
  special tokens are the ones `MusicFlamingoProcessor` and the chat template
  need, plus `<think>`, `</think>`, `<answer>`, `</answer>` as atomic
  (non-special) tokens, so `decode(..., skip_special_tokens=True)` keeps the
  think/answer tags that the GRPO rewards and the evaluation parse.
"""

from __future__ import annotations

import itertools

from musicflamingo.think_answer import TAG_TOKENS, THINK_INSTRUCTION

PAD = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
AUDIO = "<sound>"
AUDIO_BOS = "<|sound_bos|>"
AUDIO_EOS = "<|sound_eos|>"
SPECIAL_TOKENS = [PAD, IM_START, IM_END, AUDIO, AUDIO_BOS, AUDIO_EOS]
# Atomic but not "special": decoding with skip_special_tokens keeps them.

NOTES = ["C", "C#", "Db", "D", "D#", "Eb", "E", "F", "F#", "Gb", "G", "G#", "Ab", "A", "A#", "Bb", "B"]
CHORD_QUALITIES = ["", "m", "7", "maj7", "m7", "dim", "dim7", "aug", "sus2", "sus4", "m7b5", "6", "9"]
HARTE_QUALITIES = ["maj", "min", "7", "maj7", "min7", "dim", "aug", "sus4", "hdim7"]
MODES = ["major", "minor", "dorian", "mixolydian", "lydian", "phrygian", "aeolian", "ionian"]
METERS = ["2/4", "3/4", "4/4", "6/8", "9/8", "12/8", "5/4", "7/8"]
INSTRUMENTS = [
    "piano",
    "acoustic grand piano",
    "electric piano",
    "harpsichord",
    "organ",
    "church organ",
    "guitar",
    "acoustic guitar",
    "nylon guitar",
    "electric guitar",
    "bass",
    "violin",
    "viola",
    "cello",
    "contrabass",
    "strings",
    "string ensemble",
    "choir",
    "voice",
    "vocals",
    "soprano",
    "alto",
    "tenor",
    "flute",
    "clarinet",
    "oboe",
    "bassoon",
    "trumpet",
    "horn",
    "trombone",
    "saxophone",
    "harp",
    "marimba",
    "vibraphone",
    "drums",
]
GENRES = [
    "Bach chorale",
    "folk song",
    "German folk song",
    "Chinese folk song",
    "fiddle tune",
    "reel",
    "jig",
    "madrigal",
    "chanson",
    "ragtime",
    "hymn",
    "classical",
    "baroque",
    "renaissance",
    "romantic",
    "dance",
]
MOODS = ["calm", "bright", "joyful", "melancholic", "solemn", "energetic", "tender", "dark", "lively", "serene"]
SECTIONS = ["intro", "verse", "chorus", "bridge", "outro", "phrase", "cadence", "repeat", "section A", "section B"]
DESCRIPTORS = [
    "tempo",
    "BPM",
    "beats per minute",
    "key",
    "mode",
    "meter",
    "time signature",
    "downbeat",
    "beat",
    "bar",
    "measure",
    "chord",
    "progression",
    "harmony",
    "melody",
    "rhythm",
    "dynamics",
    "loudness",
    "timbre",
    "texture",
    "polyphonic",
    "homophonic",
    "monophonic",
    "tonic",
    "dominant",
    "subdominant",
    "relative minor",
    "relative major",
    "modulation",
    "lyrics",
    "sung",
    "spoken",
    "instrumental",
    "duration",
    "seconds",
]
QUESTION_STEMS = [
    "What is the key of this track?",
    "What is the tempo of this track?",
    "What is the meter of this piece?",
    "Which instrument plays the melody?",
    "Which chord is played first?",
    "Describe this music in detail.",
    "What is the mood of this piece?",
    "How many beats are in each bar?",
    "Which chord follows the tonic?",
    "Is the piece in a major or a minor mode?",
    "What happens at the start of the second section?",
    "Answer with the letter of the correct option.",
]
THINK_PHRASES = [
    THINK_INSTRUCTION,
    "Step 1: the chords outline the tonic triad.",
    "Step 2: the bass moves from the tonic to the dominant.",
    "Step 3: the beats group in threes, so the meter is 3/4.",
    "Step 4: compare the options and pick the match.",
    "The tempo is about 96 BPM.",
    "The key is G major.",
    "This rules out option (C).",
    "Therefore the answer is",
]


def music_corpus() -> list[str]:
    """A deterministic corpus (same lines, same order, every call) of music-description text."""
    lines: list[str] = []
    for note, q in itertools.product(NOTES, CHORD_QUALITIES):
        lines.append(
            f"The chord is {note}{q}. Chord {note}{q} then {note}:{HARTE_QUALITIES[len(q) % len(HARTE_QUALITIES)]}."
        )
    for note, mode in itertools.product(NOTES, MODES):
        lines.append(f"The key is {note} {mode}. The track is in {note} {mode}.")
    for meter, bpm in itertools.product(METERS, range(40, 241, 4)):
        lines.append(f"The meter is {meter} at a tempo of {bpm} BPM ({bpm} beats per minute).")
    for i, inst in enumerate(INSTRUMENTS):
        genre, mood = GENRES[i % len(GENRES)], MOODS[i % len(MOODS)]
        lines.append(
            f"A {mood} {genre} played on {inst}, with a {SECTIONS[i % len(SECTIONS)]} at {i * 3 % 60} seconds."
        )
    lines.extend(f"{d}: {d.capitalize()} of the music." for d in DESCRIPTORS)
    for n in range(0, 1001):
        lines.append(f"{n} {n / 10:.1f} {n}.{n % 10}0 s")
    for stem, letters in itertools.product(QUESTION_STEMS, ["ABCD", "BCDA", "CDAB", "DABC"]):
        opts = "\n".join(f"({c}) {NOTES[(ord(c) * 3) % len(NOTES)]} {MODES[ord(c) % len(MODES)]}" for c in letters)
        lines.append(f"{stem}\n{opts}\nThe answer is ({letters[0]}).")
    for role in ("system", "user", "assistant"):  # the chat template's role names
        lines.extend([f"{role}\n{role}: {role}"] * 20)
    for i, phrase in enumerate(THINK_PHRASES):
        letter = "ABCD"[i % 4]
        lines.append(f"<think>{phrase}</think><answer>({letter}) {NOTES[i]} {MODES[i % len(MODES)]}</answer>")
    return lines


def train_tokenizer(vocab_size: int):
    """Train the byte-level BPE on `music_corpus()` and wrap it for transformers."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # any byte stays encodable
        show_progress=False,
    )
    tok.train_from_iterator(music_corpus(), trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TAG_TOKENS])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=PAD,
        eos_token=IM_END,
        extra_special_tokens=[IM_START, AUDIO, AUDIO_BOS, AUDIO_EOS],
        padding_side="left",  # generation pads on the left; the SFT collator pads itself
        model_max_length=32768,
    )
