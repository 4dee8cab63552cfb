"""The built-in, deterministic, fact-grounded writer (the `builtin` LLM backend).

It writes surface captions per 30 s segment, rich six-dimension captions,
QA in five skill families (multiple-choice and open) and chains of thought
from MIR facts and catalogue tags only. It never states a fact it does not
have: a missing instrument tag means an explicit "not catalogued", never a
guess; a missing section analysis means no section names. Every fact is read
through `data.known`, so a fact that is absent, empty, "unknown" or
non-finite (no beats, no key, tempo 0, ...) is simply not stated, and the
questions and chains of thought that need it are not made. Each sentence is
drawn from several phrasings with a per-track RNG, so the text varies across
tracks but is reproducible for a given seed.

Confidence: the writer takes facts through `data.known.gate` (the stages do),
so a fact below its kind's hedge threshold is already unknown here; a fact in
the hedge band is stated with a hedge ("probably in A minor", "likely around
120 BPM"); questions, answers and reasoning use only asserted facts
(`known.asserted_only`), since an answer cannot hedge.

Six caption dimensions: low-level (tempo, key, meter, loudness),
instrumentation, lyrics and vocals, form with timestamps, theory
(progressions with Roman numerals, cadences, modulations, harmonic function,
harmonic rhythm), mood and cultural context.
"""

from __future__ import annotations

import random
from collections import Counter

from musicflamingo.data import known
from musicflamingo.data import theory as th
from musicflamingo.data.formats import LETTERS, mcq_prompt
from musicflamingo.think_answer import THINK_INSTRUCTION, format_reply
from musicflamingo.pitch import PITCH_CLASSES, pitch_class

CAPTION_PROMPTS = [
    "Describe this piece of music in detail: tempo, key, meter, harmony and instrumentation.",
    "Write a detailed caption for this music, covering rhythm, tonality, harmony, form and timbre.",
    "Give a musician's description of this recording, including its harmony and structure.",
    "Analyse this recording as a music theorist would, and describe how it sounds.",
]
GM_POOL = ["acoustic grand piano", "harpsichord", "church organ", "nylon-string guitar", "violin", "string ensemble",
           "choir aahs", "clarinet", "flute", "marimba", "trumpet", "cello"]
SKILLS = ("temporal", "attribute", "harmony", "lyric_vocal", "structural")

# General knowledge about a catalogued instrument (never about the recording): how it makes its sound.
# Sentences name no other instrument, so the fact checker sees only the catalogued one.
TIMBRE = {
    "acoustic grand piano": "felt hammers striking taut wire give each note a sharp attack followed by a slow decay",
    "harpsichord": "quills plucking each note give a bright, crisp attack with little control over loudness",
    "church organ": "sustained pipe tones hold at a constant level for as long as a key is held",
    "nylon-string guitar": "plucked nylon gives a warm, rounded attack and a soft decay",
    "violin": "the bow lets notes swell and sustain, with a bright, singing timbre",
    "string ensemble": "many bows together blend into a smooth, sustained body of sound",
    "choir aahs": "a sampled choir on an open vowel gives a soft, sustained, breathy pad",
    "clarinet": "a single-reed woodwind tone, hollow in the low register and clear in the upper one",
    "flute": "an airy, pure tone with few overtones, breathy at the onset",
    "marimba": "struck wooden bars give a mellow, percussive attack and a short resonance",
    "trumpet": "a brass tone with a bright, penetrating edge",
    "cello": "a bowed tone with a rich, dark lower register",
}
# General context for a catalogued tradition (first matching keyword wins).
TRADITION = [
    ("bach chorale", "Bach's chorales are four-part harmonisations of Lutheran hymn tunes, written for church services in the early eighteenth century; they are a model of functional tonal harmony and voice leading, with a cadence (marked by a fermata in the score) closing each phrase."),
    ("fiddle tune", "Fiddle tunes of this kind are dance music from the Irish and Scottish traditions: reels, jigs and hornpipes built from short repeated strains, meant to keep a steady pulse for dancers."),
    ("folk song (essen)", "It belongs to the Essen folk-song collection, a scholarly corpus of monophonic melodies transcribed for computational musicology; such songs are usually strophic, with short, singable phrases."),
    ("ragtime", "Ragtime, associated above all with Scott Joplin around 1900, sets a syncopated melody against a steady, march-like accompaniment, usually in multi-strain forms."),
    ("madrigal", "The Renaissance madrigal, brought to its height by Monteverdi around 1600, is secular polyphony that paints the imagery of its text in the music."),
]
_TEMPO_WORDS = ((66, "slow (adagio)"), (76, "leisurely (andante)"), (108, "moderate (moderato)"), (132, "lively (allegro)"), (1e9, "fast (vivace)"))


def fmt_time(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def tempo_word(bpm: float) -> str:
    return next(word for limit, word in _TEMPO_WORDS if bpm < limit)


def chord_summary(chords: list, limit: int = 6) -> tuple[list[str], list[str]]:
    """(opening progression, most frequent chords) as readable names; N/X are skipped."""
    named = [c.name for c in th.chords_of({"chords": chords})]
    opening: list[str] = []
    for name in named:
        if not opening or opening[-1] != name:
            opening.append(name)
        if len(opening) >= limit:
            break
    return opening, [n for n, _ in Counter(named).most_common(3)]


def sec(label: str, article: str = "") -> str:
    """How a section is named in text: letters as "section A", words as "the chorus"."""
    return f"section {label}" if len(label) == 1 else f"{article}{label}"


def _an(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def _pick(rng: random.Random, *options: str) -> str:
    return rng.choice(options)


def _count_word(n: int) -> str:
    return ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"][n] if n <= 10 else str(n)


# ------------------------------------------------------------------ surface caption (per 30 s segment)

def surface_caption(segment: dict, facts: dict, tags: dict, rng: random.Random) -> str:
    """A short caption of one 30 s window from its DSP descriptors and the catalogue tags."""
    start, end = float(segment["start_s"]), float(segment["end_s"])
    parts = [f"From {fmt_time(start)} to {fmt_time(end)}"]
    # A window of annotate's has its own tempo (None where it has too few beats: then no pulse is claimed for it);
    # a window row without the field at all falls back to the track tempo.
    bpm = known.tempo(segment) if "tempo_bpm" in segment else known.tempo(facts)
    if bpm and known.hedged(facts, "tempo"):
        parts.append(f"the pulse is likely around {bpm:.0f} BPM")
    elif bpm:
        parts.append(_pick(rng, f"the pulse runs at about {bpm:.0f} BPM", f"the beat moves at roughly {bpm:.0f} BPM"))
    names = [c.name for c in th.chords_of(segment)]
    if names:
        parts.append(f"the chord {Counter(names).most_common(1)[0][0]} is {'probably ' if known.hedged(facts, 'chords') else ''}heard most")
    lufs = known.number(segment, "loudness_lufs")
    if lufs is not None:
        parts.append(f"the level is about {lufs:.0f} LUFS")
    inst = tags.get("instruments") or []
    text = ", ".join(parts) + "."
    if inst:
        text += " " + _pick(rng, f"The sound is that of {' and '.join(inst)}.", f"It is played on {' and '.join(inst)}.")
    return text


# ------------------------------------------------------------------ the rich caption

def _low_level(facts: dict, rng: random.Random) -> list[str]:
    bpm, meter, key, dur = known.tempo(facts), known.meter(facts), known.key(facts), facts["duration_s"]
    beats, downbeats = known.times(facts, "beats"), known.times(facts, "downbeats")
    if bpm is not None and known.hedged(facts, "tempo"):
        out = [f"This piece lasts {fmt_time(dur)}; its tempo is likely around {bpm:.0f} BPM, though the estimate is uncertain."]
    elif bpm is not None:
        out = [_pick(
            rng,
            f"This {fmt_time(dur)}-long piece moves at about {bpm:.0f} BPM, a {tempo_word(bpm)} pace.",
            f"Running {fmt_time(dur)}, the music keeps a {tempo_word(bpm)} pulse of roughly {bpm:.0f} BPM.",
            f"A {tempo_word(bpm)} performance at around {bpm:.0f} BPM, lasting {fmt_time(dur)}.",
            f"Over its {fmt_time(dur)} the recording holds a steady beat near {bpm:.0f} BPM, which reads as {tempo_word(bpm)}.",
        )]
    else:  # no tempo was measured: none is named, and no pace word stands in for it
        out = [f"The recording lasts {fmt_time(dur)}; no tempo could be measured, so none is claimed."]
    ibi = _beat_period(beats)
    if ibi:
        out.append(_pick(rng, f"The beat tracker places {len(beats)} beats, about {ibi:.2f} seconds apart.",
                         f"Successive beats fall roughly {ibi:.2f} seconds apart ({len(beats)} beats in all)."))
    conf = known.number(facts, "tempo_confidence")
    if conf is not None and bpm is not None:
        out.append(f"The tempo estimate is {'very secure' if conf >= 0.8 else 'fairly secure' if conf >= 0.5 else 'uncertain'} (confidence {conf:.2f}).")
    if meter is not None and known.hedged(facts, "meter"):
        out.append(f"The beats probably group in {meter} time, though the meter estimate is uncertain.")
    elif meter is not None:
        n = meter.split("/")[0]
        bars = max(len(downbeats) - 1, 0)
        out.append(_pick(rng, f"The beats group in {meter} time, with a downbeat every {n} beats" + (f" across about {bars} bars." if bars else "."),
                         f"It is felt in {meter}: bars of {n} beats" + (f", about {bars} of them." if bars else ".")))
    else:
        out.append("The meter could not be established from the downbeats, so no time signature is claimed.")
    if key is not None and known.hedged(facts, "key"):
        out.append(f"It is probably in {key}, though the key estimate is uncertain.")
    elif key is not None:
        tonic, mode = key.split()
        kc = known.number(facts, "key_confidence")
        out.append(_pick(
            rng,
            f"Tonally it centres on {tonic} {mode}, which gives it a {'bright, settled' if mode == 'major' else 'darker, more plaintive'} colour.",
            f"The key is {tonic} {mode}; the {mode} mode lends a {'clear and open' if mode == 'major' else 'sombre'} character.",
            f"Its tonal centre is {tonic}, in the {mode} mode.",
        ) + (f" The key estimate has confidence {kc:.2f}." if kc is not None else ""))
    else:
        out.append("The key could not be established, so none is claimed.")
    lufs = known.number(facts, "loudness_lufs")
    if lufs is not None:
        band = "loud" if lufs > -14 else "quiet" if lufs < -23 else "moderate in level"
        lra = known.number(facts, "loudness_range_lu")
        out.append(f"Its integrated loudness is {lufs:.1f} LUFS, which is {band}" + (f", with a loudness range of {lra:.1f} LU." if lra is not None else "."))
    b = known.number(facts, "brightness_hz")
    if b is not None and b > 0:  # a centroid of 0 Hz is a silent signal, not a dark spectrum
        out.append(f"The spectral centroid averages {b:.0f} Hz, a {'bright' if b > 2500 else 'warm' if b < 1200 else 'balanced'} spectrum.")
    d = known.number(facts, "onset_density")
    if d is not None:
        out.append(f"Note onsets come at about {d:.1f} per second, a {'busy' if d > 4 else 'sparse' if d < 1.5 else 'moderate'} texture.")
    return out


def _instrumentation(tags: dict, rng: random.Random, facts: dict | None = None) -> list[str]:
    inst = tags.get("instruments") or []
    heard = (facts or {}).get("instruments") or []  # the tagger's, only those above its calibrated threshold
    maybe = known.hedged_items(facts or {}, "instruments")
    sure = [row for row in heard if row not in maybe]
    if not inst and heard:
        listed = lambda rows: ' and '.join(f'{t} (probability {p:.2f})' for t, _, p in rows)  # noqa: E731
        return ([f"An audio tagger hears {listed(sure)}."] if sure else []) + (
            [f"It may also be hearing {listed(maybe)}, though less surely."] if maybe else [])
    if not inst:
        return ["The catalogue does not list the instrumentation, so no instrument is named here."]
    names = " and ".join(inst)
    out = [_pick(rng, f"The timbre is that of {names}.", f"It is played on {names}.", f"The sound is carried by {names}.")]
    for name in inst:
        if name in TIMBRE:
            out.append(_pick(rng, f"On the {name}, {TIMBRE[name]}.", f"With the {name}, {TIMBRE[name]}."))
    return out


def _vocals(facts: dict, rng: random.Random) -> list[str]:
    vocals, lyrics, words = facts.get("vocals"), known.lyrics(facts), known.sung_words(facts)
    if vocals is False:
        return [_pick(rng, "The recording is instrumental: the vocal detector finds no singing.",
                      "No vocals are detected; the piece is instrumental.")]
    if vocals is None and not lyrics and not words:
        return ["The analysis cannot tell whether a voice is present, so none is described."]
    out = ["A singing voice is probably present." if known.hedged(facts, "vocals") else "A singing voice is present."]
    if words:
        first = words[: min(6, len(words))]
        out.append(f"The transcription begins at {fmt_time(first[0][0])} with the words \"{' '.join(w for _, _, w in first)}\".")
        s, _, w = words[len(words) // 2]
        out.append(f"Around {fmt_time(s)} the word \"{w.strip('.,!?')}\" is sung.")
    elif lyrics:
        out.append(f"The sung lyrics open with \"{' '.join(lyrics.split()[:6])}\".")
    return out


def _form(facts: dict, tags: dict, rng: random.Random, surface: list[str]) -> list[str]:
    out: list[str] = []
    sections = known.sections(facts)
    if sections:
        labels = [lab for _, _, lab in sections]
        out.append(f"The structure analysis finds {_count_word(len(sections))} section{'s' if len(sections) > 1 else ''}: " + ", ".join(
            f"{sec(lab)} ({fmt_time(s)}-{fmt_time(e)})" for s, e, lab in sections) + ".")
        repeated = [lab for lab, n in Counter(labels).items() if n > 1]
        if repeated:
            out.append(f"The {' and '.join(sec(r) for r in repeated)} material returns, so the form is built on repetition.")
        longest = _longest_section(sections)
        if longest is not None:
            out.append(f"The longest section is {sec(longest[2], 'the ')}, lasting {longest[1] - longest[0]:.0f} seconds from {fmt_time(longest[0])}.")
    else:
        out.append("No structure analysis is available, so no parts of the form are named.")
    # Only each window's first sentence: the instrument sentence would repeat in every window.
    firsts = [c.split(". ")[0].rstrip(".") + "." for c in surface]
    if len(firsts) > 1:
        out.append(_pick(rng, "Window by window:", "Taken in thirty-second windows:") + " " + " ".join(firsts))
    elif firsts:
        out.append(firsts[0])
    return out


def _longest_section(sections: list[tuple[float, float, str]], margin_s: float = 1.0) -> tuple[float, float, str] | None:
    """The longest section when it is longer, by `margin_s`, than every section with another label
    (one section, or a tie, has no "longest" worth stating)."""
    if len(sections) < 2:
        return None
    longest = max(sections, key=lambda x: x[1] - x[0])
    rivals = [e - s for s, e, lab in sections if lab != longest[2]]
    return longest if rivals and longest[1] - longest[0] - max(rivals) >= margin_s else None


def _theory(facts: dict, rng: random.Random) -> list[str]:
    chords = th.chords_of(facts)
    if not chords:
        return ["The chord analysis found no chords, so no progression is described."]
    if known.hedged(facts, "chords"):  # the chord tools disagree: one hedged sentence, no analysis built on it
        return [f"The chord tools disagree in places; the harmony probably opens with {' - '.join(c.name for c in th.merged(chords)[:4])}."]
    if known.hedged(facts, "key"):  # numerals, functions and cadences would assert the key: chord names only
        facts = known.asserted_only(facts)
    key = known.key(facts)
    seq = th.merged(chords)
    head = seq[:6]
    common = th.most_common(chords, 3)
    final = seq[-1]
    if key is None:  # chord names only: numerals, functions, cadences and modulations all need a key
        hr = _harmonic_rhythm(facts, chords)
        return [_pick(rng, f"Harmonically it opens with the progression {' - '.join(c.name for c in head)}.",
                      f"The harmony begins {' - '.join(c.name for c in head)}.")] + [
            f"By duration the chords heard most are {', '.join(common)}.",
            *([f"The harmonic rhythm is about {hr:.1f} chord changes per bar, {'quick' if hr > 1.5 else 'relaxed' if hr < 0.75 else 'moderate'}."] if hr else []),
            f"The piece ends on {final.name}.",
        ]
    tonic, mode = th.parse_key(key)
    out = [_pick(
        rng,
        f"Harmonically it opens with the progression {' - '.join(c.name for c in head)}, which in {key} reads {' - '.join(th.roman(c, key) for c in head)}.",
        f"The harmony begins {' - '.join(c.name for c in head)}; relative to {key} that is {' - '.join(th.roman(c, key) for c in head)}.",
    )]
    by_name = {c.name: c for c in chords}
    funcs = []
    for name in common:
        num = th.roman(by_name[name], key)
        f = th.function_of(num)
        funcs.append(f"{name} ({num}{', ' + f if f else ''})")
    out.append(f"By duration the chords heard most are {', '.join(funcs)}.")
    share = th.tonic_share(chords, key)
    out.append(f"Tonic harmony occupies {share * 100:.0f} percent of the chord time, so the {'tonal centre is strongly' if share > 0.35 else 'music moves away from the tonic and the centre is only intermittently'} asserted.")
    chromatic = []
    for c in seq:
        num = th.roman(c, key)
        if not th.is_diatonic(num, mode) and c.name not in [x[0] for x in chromatic]:
            sec = th.secondary_dominant(c, key)
            chromatic.append((c.name, num, sec, c.start))
    if chromatic:
        desc = []
        for name, num, sec, t in chromatic[:3]:
            desc.append(f"{name} at {fmt_time(t)}" + (f" acting as a secondary dominant ({sec})" if sec else f" ({num}, outside the scale)"))
        out.append("Chromatic colour comes from " + "; ".join(desc) + ".")
    else:
        out.append(f"Every chord found belongs to the {key} scale, so the harmony is purely diatonic.")
    cads = th.cadences(chords, key, facts.get("downbeats"))
    if cads:
        kinds = Counter(c.kind for c in cads)
        out.append("Cadences: " + ", ".join(f"{n} {k}" for k, n in kinds.most_common()) + ".")
        last = cads[-1]
        out.append(f"The last cadence arrives at {fmt_time(last.time)}, {_an(last.kind)} cadence ({last.approach}, {last.numerals}).")
    else:
        out.append("No cadential V-I, IV-I or half-cadence motion is found in the chord sequence.")
    hr = _harmonic_rhythm(facts, chords)
    if hr:
        out.append(f"The harmonic rhythm is about {hr:.1f} chord changes per bar, {'quick' if hr > 1.5 else 'relaxed' if hr < 0.75 else 'moderate'}"
                   + (" for this tempo." if known.tempo(facts) else "."))
    section_keys = known.section_keys(facts)
    mods = th.modulations(section_keys, key)
    for t, a, b in mods[:3]:
        if b == key:
            out.append(f"At {fmt_time(t)} the music returns from {a} to the home key of {b}.")
        else:
            out.append(f"At {fmt_time(t)} the music modulates from {a} to {b}, {th.relation(a, b)}.")
    if section_keys and not mods:
        out.append("The section keys agree throughout, so there is no modulation.")
    out.append(f"The piece ends on {final.name} ({th.roman(final, key)})" + (", closing on the tonic." if th.triad_numeral(th.roman(final, key)) in ("I", "i") else ", away from the tonic, which leaves it open."))
    return out


def _harmonic_rhythm(facts: dict, chords: list) -> float | None:
    """Chord changes per bar: the annotated value, else computed from the downbeats; None without bars."""
    downbeats = known.times(facts, "downbeats")
    if len(downbeats) < 2:
        return None
    hr = known.number(facts, "harmonic_rhythm")
    return hr if hr else th.harmonic_rhythm(chords, downbeats)


def _mood(facts: dict, tags: dict, rng: random.Random) -> list[str]:
    out = []
    key, bpm = known.key(facts), known.tempo(facts)
    if key is not None and bpm is not None:  # the mood reading needs both the mode and the pace
        mode = key.split()[1]
        mood = {("major", True): "buoyant and energetic", ("major", False): "calm and serene",
                ("minor", True): "restless and driving", ("minor", False): "wistful and introspective"}[(mode, bpm >= 108)]
        out.append(_pick(rng, f"Taken together, the {mode} mode and the {tempo_word(bpm).split()[0]} tempo make the mood {mood}.",
                         f"The combination of {mode} tonality and this pace gives a {mood} feeling."))
    tradition = tags.get("tradition")
    if tradition:
        out.append(_pick(rng, f"Stylistically it belongs to the {tradition} repertoire.", f"The catalogue places it in the {tradition} tradition."))
        low = tradition.lower()
        ctx = next((text for kw, text in TRADITION if kw in low), None)
        if ctx:
            out.append(ctx)
    else:
        out.append("The catalogue gives no genre or tradition, so none is asserted.")
    return out


def caption(facts: dict, tags: dict, rng: random.Random, surface: list[str] | None = None) -> str:
    """A rich caption in six dimensions, as paragraphs; only facts present in `facts`/`tags` are stated."""
    if surface is None:
        surface = [surface_caption(s, facts, tags, rng) for s in facts.get("segments") or [] if s["end_s"] - s["start_s"] >= 5]
    blocks = [_low_level(facts, rng), _instrumentation(tags, rng, facts), _vocals(facts, rng), _form(facts, tags, rng, surface),
              _theory(facts, rng), _mood(known.asserted_only(facts), tags, rng)]
    return "\n\n".join(" ".join(b) for b in blocks if b)


# ------------------------------------------------------------------ QA in five skill families

def _options(correct: str, distractors: list[str], rng: random.Random) -> tuple[list[str], str]:
    pool = [d for d in dict.fromkeys(distractors) if d != correct][:3]
    if len(pool) < 3:
        raise ValueError("not enough distinct distractors")
    options = pool + [correct]
    rng.shuffle(options)
    return options, LETTERS[options.index(correct)]


def _key_distractors(key: str) -> list[str]:
    tonic, mode = key.split()
    pc = pitch_class(tonic)
    tonic = PITCH_CLASSES[pc]
    relative = f"{PITCH_CLASSES[(pc + 9) % 12]} minor" if mode == "major" else f"{PITCH_CLASSES[(pc + 3) % 12]} major"
    parallel = f"{tonic} {'minor' if mode == 'major' else 'major'}"
    dominant = f"{PITCH_CLASSES[(pc + 7) % 12]} {mode}"
    second = f"{PITCH_CLASSES[(pc + 2) % 12]} {mode}"
    return [relative, parallel, dominant, second]


def _chord_distractors(present: set[str], rng: random.Random, near: list[str] | None = None) -> list[str]:
    """Chords that never sound in the track (plausible: the key's neighbourhood first)."""
    pool = [n for n in (near or []) if n not in present]
    others = [r + q for r in PITCH_CLASSES for q in ("", "m", "7") if r + q not in present]
    rng.shuffle(others)
    return list(dict.fromkeys(pool + others))


def _mcq(skill: str, qtype: str, question: str, correct: str, distractors: list[str], fact_ids: list[str], rng: random.Random) -> dict | None:
    try:
        opts, letter = _options(correct, distractors, rng)
    except ValueError:
        return None
    return {"task": "mcq", "skill": skill, "qtype": qtype, "question": question, "options": opts, "answer_letter": letter,
            "answer": correct, "fact_ids": fact_ids, "prompt": mcq_prompt(question, opts)}


def _open(skill: str, qtype: str, question: str, answer: str, fact_ids: list[str]) -> dict:
    return {"task": "open", "skill": skill, "qtype": qtype, "question": question, "answer": answer, "fact_ids": fact_ids, "prompt": question}


def qa_items(facts: dict, tags: dict, rng: random.Random) -> list[dict]:
    """Multiple-choice and open questions in the five skill families; each answer names its fact ids.
    Only asserted facts are asked about (an answer cannot hedge)."""
    facts = known.asserted_only(facts)
    items: list[dict | None] = []
    key, meter, dur = known.key(facts), known.meter(facts), facts["duration_s"]
    chords = th.chords_of(facts)
    seq = th.merged(chords)
    present = {c.name for c in chords}
    diatonic_names = []
    if key is not None:
        tonic_pc, mode = th.parse_key(key)
        diatonic_names = [PITCH_CLASSES[(tonic_pc + d) % 12] + q for d, q in
                          ((0, ""), (2, "m"), (4, "m"), (5, ""), (7, ""), (7, "7"), (9, "m"), (3, ""), (8, ""), (10, ""))]

    # attribute (a question is asked only about a fact that is known)
    bpm = round(known.tempo(facts) or 0)
    if bpm > 0:
        distractors = [f"about {round(bpm * f)} BPM" for f in (0.5, 0.75, 1.33, 1.5, 2.0) if 20 <= round(bpm * f) <= 300]
        rng.shuffle(distractors)
        items.append(_mcq("attribute", "tempo", "What is the approximate tempo of this piece?", f"about {bpm} BPM", distractors, ["tempo_bpm"], rng))
        items.append(_open("attribute", "tempo", "How fast is this piece?", f"It moves at about {bpm} BPM, a {tempo_word(bpm)} tempo.", ["tempo_bpm"]))
    if key is not None:
        items.append(_mcq("attribute", "key", "In which key is this piece?", key, _key_distractors(key), ["key"], rng))
    if meter is not None:
        items.append(_mcq("attribute", "meter", "What is the meter of this piece?", meter, ["2/4", "3/4", "4/4", "6/8", "5/4"], ["time_signature"], rng))
        if key is not None:
            items.append(_open("attribute", "key_meter", "What are the key and the meter of this piece?", f"It is in {key}, in {meter} time.", ["key", "time_signature"]))
        else:
            items.append(_open("attribute", "meter", "What is the meter of this piece?", f"It is in {meter} time.", ["time_signature"]))
    instruments = tags.get("instruments") or []
    if instruments:
        pool = [g for g in GM_POOL if g not in instruments]
        rng.shuffle(pool)
        items.append(_mcq("attribute", "instrument", "Which instrument plays this piece?", instruments[0], pool, ["tags.instruments"], rng))

    # harmony and theory
    if seq:
        first = seq[0]
        i0 = next(i for i, (s, _, lab) in enumerate(facts["chords"]) if lab == first.label and float(s) == first.start)
        items.append(_mcq("harmony", "first_chord", f"Which chord is heard first (at {fmt_time(first.start)})?", first.name,
                          _chord_distractors(present, rng, diatonic_names), [f"chords[{i0}]"], rng))
        common = th.most_common(chords, 1)[0]
        items.append(_mcq("harmony", "most_common_chord", "Which chord sounds for the longest total time?", common,
                          [c.name for c in seq if c.name != common] + _chord_distractors(present, rng), ["chords"], rng))
        c = next((c for c in seq if th.roman(c, key) not in ("I", "i")), None) if key is not None else None
        if c is not None:
            num = th.roman(c, key)
            wrong = [th.roman(th.Chord(0, 0, "", "", (c.root + d) % 12, c.quality), key) for d in (5, 7, 2, 9, 4)]
            items.append(_mcq("harmony", "roman_numeral", f"Relative to the key of {key}, what is the Roman numeral of the {c.name} chord?", num, wrong, ["chords", "key"], rng))
        head = seq[:4]
        if len(head) >= 2 and key is not None:
            items.append(_open("harmony", "progression", "Describe the opening chord progression, with Roman numerals.",
                               f"It opens {' - '.join(x.name for x in head)}, that is {' - '.join(th.roman(x, key) for x in head)} in {key}.", ["chords", "key"]))
        cads = th.cadences(chords, key, facts.get("downbeats")) if key is not None else []
        if cads:
            last = cads[-1]
            items.append(_mcq("harmony", "cadence", f"What kind of cadence arrives at {fmt_time(last.time)}?", f"{last.kind} cadence",
                              [f"{k} cadence" for k in ("authentic", "plagal", "half", "deceptive") if k != last.kind], ["chords", "key"], rng))
            fn = th.function_of(th.roman(seq[0], key))
            if fn:
                items.append(_open("harmony", "function", f"What harmonic function does the opening {seq[0].name} chord have?",
                                   f"{seq[0].name} is {th.roman(seq[0], key)} in {key}, {_an(fn)} chord.", ["chords", "key"]))

    # temporal
    if len(seq) >= 3:
        mid = seq[len(seq) // 2]
        t = (mid.start + mid.end) / 2
        near = {c.name for c in chords if c.end >= t - 2 and c.start <= t + 2}
        items.append(_mcq("temporal", "chord_at_time", f"Which chord sounds at {fmt_time(t)}?", mid.name,
                          [c.name for c in seq if c.name not in near] + _chord_distractors(present, rng), ["chords"], rng))
        items.append(_open("temporal", "chord_at_time", f"What is the harmony at {fmt_time(t)}?", f"At {fmt_time(t)} the chord is {mid.name}.", ["chords"]))
    cads = th.cadences(chords, key, facts.get("downbeats")) if seq and key is not None else []
    if cads:
        t = cads[-1].time
        wrong = [f"at {fmt_time(x)}" for x in (t * 0.5, t * 0.25, max(dur - t, 0) * 0.5 + t * 0.1, t * 0.75) if abs(x - t) > 3]
        items.append(_mcq("temporal", "cadence_time", "When does the final cadence arrive?", f"at {fmt_time(t)}", wrong, ["chords", "key"], rng))
    sections = known.sections(facts)
    if len(sections) >= 2:
        s2 = sections[1]
        wrong = [f"at {fmt_time(s[0])}" for s in sections if abs(s[0] - s2[0]) > 3] + [f"at {fmt_time(x)}" for x in (s2[0] + 8, s2[0] * 2 + 5, dur * 0.8)]
        items.append(_mcq("temporal", "section_start", "When does the second section start?", f"at {fmt_time(s2[0])}", wrong, ["sections[1]"], rng))
        items.append(_open("temporal", "section_at_time", f"Which section is playing at {fmt_time((s2[0] + s2[1]) / 2)}?",
                           f"It is {sec(s2[2], 'the ')}, which runs from {fmt_time(s2[0])} to {fmt_time(s2[1])}.", ["sections[1]"]))
    items.append(_open("temporal", "duration", "How long is this recording?", f"It lasts {fmt_time(dur)}, about {dur:.0f} s.", ["duration_s"]))

    # lyric and vocal grounding
    words = known.sung_words(facts)
    if facts.get("vocals") is not None:
        yes = bool(facts["vocals"])
        items.append(_open("lyric_vocal", "has_voice", "Is there a singing voice in this recording?",
                           "Yes, a singing voice is present." if yes else "No, the recording is instrumental.", ["vocals"]))
    if len(words) >= 4:
        s, e, w = words[len(words) // 2]
        w = w.strip(".,!?")
        others = [x.strip(".,!?") for a, b, x in words if abs(a - s) > 3 and x.strip(".,!?").lower() != w.lower()]
        rng.shuffle(others)
        items.append(_mcq("lyric_vocal", "word_at_time", f"Which word is sung at {fmt_time(s)}?", w, others, ["words"], rng))
        items.append(_open("lyric_vocal", "word_at_time", f"What word is sung at {fmt_time(s)}?", f"At {fmt_time(s)} the word \"{w}\" is sung.", ["words"]))

    # comparative and structural
    if sections:
        n = len(sections)
        items.append(_mcq("structural", "section_count", "How many sections does the structure analysis find?", str(n),
                          [str(x) for x in (n + 1, n + 2, n - 1, n + 3) if x > 0], ["sections"], rng))
        longest = _longest_section(sections)
        if longest is not None:
            labels = {lab for _, _, lab in sections}
            others = [lab for lab in dict.fromkeys(lab for _, _, lab in sections) if lab != longest[2]] + [g for g in ("intro", "bridge", "outro", "coda") if g not in labels]
            items.append(_mcq("structural", "longest_section", "Which section lasts longest?", longest[2], others, ["sections"], rng))
        if n >= 2:
            a, b = sections[0], sections[-1]
            items.append(_open("structural", "compare_sections", "Compare the first and the last section.",
                               f"The first section, {sec(a[2], 'the ')}, lasts {a[1] - a[0]:.0f} s from {fmt_time(a[0])}; the last, {sec(b[2], 'the ')}, lasts {b[1] - b[0]:.0f} s from {fmt_time(b[0])}.", ["sections"]))
    if len(seq) >= 4:
        half = dur / 2
        n1 = sum(1 for c in seq if c.start < half)
        n2 = len(seq) - n1
        items.append(_open("structural", "compare_halves", "How does the harmonic activity of the first half compare with the second half?",
                           f"Up to {fmt_time(half)} the harmony changes {n1} times; after it, {n2} times, so the "
                           + ("first half is busier." if n1 > n2 else "second half is busier." if n2 > n1 else "two halves are equally active."), ["chords"]))
        if n1 != n2:
            correct = "the first half" if n1 > n2 else "the second half"
            items.append(_mcq("structural", "compare_halves", "Which half of the recording has more chord changes?", correct,
                              ["the first half" if correct == "the second half" else "the second half", "both halves equally", "neither half has any"], ["chords"], rng))
        bars = len(known.times(facts, "downbeats")) - 1
        if bars >= 4:
            items.append(_mcq("structural", "bar_count", "About how many bars does the recording contain?", f"about {bars} bars",
                              [f"about {round(bars * f)} bars" for f in (0.5, 1.5, 2.0, 3.0)], ["downbeats"], rng))
    return [it for it in items if it is not None]


def mcq_items(facts: dict, tags: dict, rng: random.Random) -> list[dict]:
    """Only the four-option questions (kept for callers that want MCQ alone)."""
    return [it for it in qa_items(facts, tags, rng) if it["task"] == "mcq"]


# ------------------------------------------------------------------ chains of thought

def think_steps(item: dict, facts: dict, tags: dict) -> list[str] | None:
    """Reasoning steps grounded in the same facts as the answer (asserted ones only); None if no chain applies."""
    facts = known.asserted_only(facts)
    fid = item["fact_ids"][0]
    letter, answer = item["answer_letter"], item["answer"]
    key = known.key(facts)
    per_tool = {t: v for t, v in (facts.get("per_tool") or {}).items() if isinstance(v, dict)}
    if fid == "tempo_bpm":
        tempo = known.tempo(facts)
        if tempo is None:
            return None
        beats = known.times(facts, "beats")
        ibi = _beat_period(beats)
        steps = [f"The beat tracker finds {len(beats)} beats between {beats[0]:.1f} s and {beats[-1]:.1f} s."] if ibi else []
        tempi = {t: bpm for t, v in per_tool.items() if (bpm := known.tempo(v))}
        if len(tempi) > 1:
            steps.append("The tools disagree: " + ", ".join(f"{t} reports {v:.0f} BPM" for t, v in tempi.items()) + ".")
        steps += [
            _beat_period_step(ibi, tempo) if ibi else f"No beats were tracked, so the tempo rests on the tempo estimators alone: the fused estimate is {tempo:.0f} BPM.",
            f"Option ({letter}) {answer} matches; the others are off by a factor of 1.33 or more.",
        ]
        return steps
    if fid == "key":
        if key is None:
            return None
        tonic, mode = key.split()
        opening, _ = chord_summary(facts.get("chords") or [], 4)
        steps = [f"The pitch-class profile of the piece points to a tonal centre on {tonic}."]
        keys = {t: k for t, v in per_tool.items() if (k := known.as_key(v.get("key")))}
        if len(set(keys.values())) > 1:
            steps.append("The key estimators disagree: " + ", ".join(f"{t} reads {v}" for t, v in keys.items()) + ".")
        if opening:
            steps.append(f"The opening chords {' - '.join(opening)} support {tonic} as the centre.")
        final = th.merged(th.chords_of(facts))[-1:]
        if final and th.triad_numeral(th.roman(final[0], key)) in ("I", "i"):
            steps.append(f"The last chord, {final[0].name}, is the tonic triad, which confirms it.")
        steps.append(f"The third above the tonic is {mode}, so the key is {tonic} {mode}.")
        steps.append(f"That is option ({letter}).")
        return steps
    if fid == "time_signature":
        meter = known.meter(facts)
        if meter is None:
            return None
        n = meter.split("/")[0]
        return [f"Downbeats fall every {n} beats.", f"Counting the beats in groups of {n} gives the meter {meter}.", f"So the answer is ({letter})."]
    qtype = item.get("qtype")
    chords = th.chords_of(facts)
    if qtype == "chord_at_time" or fid.startswith("chords["):
        t = _time_in(item.get("prompt", ""))
        span = next((c for c in chords if t is not None and c.start <= t < c.end), None)
        if span is None:
            return [f"The chord analysis labels the chord in question {answer}.", f"Among the options only ({letter}) names the chord {answer}."]
        return [f"The question asks about {fmt_time(t)}.",
                f"The chord analysis shows the chord {span.name} sounding from {span.start:.1f} s to {span.end:.1f} s, which covers that moment.",
                f"In {key} that chord is {th.roman(span, key)}; option ({letter}) names it." if key else f"Option ({letter}) names it."]
    if qtype == "most_common_chord":
        return [f"Adding up how long each chord sounds, the chord {answer} has the largest total duration.", f"So the answer is ({letter})."]
    if qtype == "roman_numeral":
        if key is None:
            return None
        tonic, mode = key.split()
        return [f"The key is {tonic} {mode}, so the tonic {tonic} is degree I.",
                f"Counting scale degrees from {tonic} and reading the chord quality gives the numeral {answer}.", f"That is option ({letter})."]
    if qtype in ("cadence", "cadence_time"):
        cads = th.cadences(chords, key, facts.get("downbeats")) if key else []
        if not cads:
            return None
        last = cads[-1]
        return [f"In {key} the chord sequence has cadential motions; the last one, {last.approach}, starts its goal chord at {fmt_time(last.time)}.",
                f"The numerals {last.numerals} make it {_an(last.kind)} cadence.", f"So the answer is ({letter}) {answer}."]
    if qtype == "instrument":
        return [f"The catalogue lists the instrumentation as {', '.join(tags.get('instruments') or [answer])}.",
                f"Its timbre matches option ({letter}) {answer}; the other options name instruments that are not listed."]
    if qtype == "compare_halves":
        half = facts["duration_s"] / 2
        seq = th.merged(chords)
        n1 = sum(1 for c in seq if c.start < half)
        return [f"The midpoint of the recording is {fmt_time(half)}.",
                f"Before it the harmony changes {n1} times, after it {len(seq) - n1} times.", f"So the answer is ({letter}) {answer}."]
    if qtype == "bar_count":
        db = known.times(facts, "downbeats")
        if len(db) < 2:
            return None
        return [f"The downbeat tracker finds {len(db)} downbeats, from {db[0]:.1f} s to {db[-1]:.1f} s.",
                f"Between the first and the last downbeat lie {len(db) - 1} bars, option ({letter})."]
    if fid.startswith("sections"):
        sections = known.sections(facts)
        if not sections:
            return None
        return [f"The structure analysis lists {_count_word(len(sections))} section{'s' if len(sections) > 1 else ''}.",
                # a bare count is no checkable claim; "N sections" is (the claim checker reads section counts)
                f"Reading their boundaries gives {answer} sections, option ({letter})." if str(answer).isdigit()
                else f"Reading their boundaries gives {answer}, option ({letter})."]
    if qtype == "word_at_time":
        if not known.sung_words(facts):
            return None
        return ["The transcription gives each sung word a start and end time.",
                f"The word whose span covers that moment is \"{answer}\", option ({letter})."]
    return None


def _beat_period(beats: list[float]) -> float | None:
    """Mean inter-beat interval in seconds; None with fewer than two beats or a zero span."""
    if len(beats) < 2 or beats[-1] <= beats[0]:
        return None
    return (beats[-1] - beats[0]) / (len(beats) - 1)


def _time_in(text: str) -> float | None:
    import re

    m = re.search(r"\b(\d{1,2}):([0-5]\d)\b", text)
    return int(m.group(1)) * 60 + int(m.group(2)) + 0.5 if m else None


def _beat_period_step(ibi: float, tempo: float) -> str:
    """The arithmetic from beat period to tempo; when the fused tempo counts another pulse level
    than the tracked beats, say so instead of stating the tracker's rate as the tempo."""
    ratio = tempo * ibi / 60
    if abs(ratio - 1) <= 0.04:
        return f"The beats are about {ibi:.2f} s apart, and 60 / {ibi:.2f} gives roughly {60 / ibi:.0f} BPM, so the fused tempo is {tempo:.0f} BPM."
    level = {2: "twice", 3: "three times"}.get(round(ratio)) if ratio > 1 else "half"
    return (f"The tracked beats are about {ibi:.2f} s apart; the fused tempo of {tempo:.0f} BPM counts "
            f"{level or 'another multiple of'} that pulse, the metrical level the tools agree on best.")


def think_sample(item: dict, facts: dict, tags: dict) -> tuple[str, str, list[str]] | None:
    steps = think_steps(item, facts, tags)
    if not steps:
        return None
    human, gpt = think_from_steps(item, steps)
    return human, gpt, steps


def think_from_steps(item: dict, steps: list[str]) -> tuple[str, str]:
    think = " ".join(f"Step {i + 1}: {s}" for i, s in enumerate(steps))
    human = f"{item['prompt']}\n{THINK_INSTRUCTION}"
    return human, format_reply(think, f"({item['answer_letter']}) {item['answer']}")


__all__ = ["CAPTION_PROMPTS", "SKILLS", "caption", "surface_caption", "qa_items", "mcq_items", "think_sample", "think_steps"]
