"""The built-in, deterministic, fact-grounded writer (the `builtin` LLM backend).

It writes captions, multiple-choice QA and chains of thought from MIR facts
and catalogue tags only. It never states a fact it does not have: a missing
instrument tag means no instrument sentence, not a guess. Phrasing is drawn
from several alternatives with a per-track RNG, so the text varies across
tracks but is reproducible for a given seed.
"""

from __future__ import annotations

import random
from collections import Counter

from musicflamingo.data.formats import LETTERS, THINK_INSTRUCTION, mcq_prompt
from musicflamingo.mir.harte import simple_name
from musicflamingo.schemas import PITCH_CLASSES

CAPTION_PROMPTS = [
    "Describe this piece of music in detail: tempo, key, meter, harmony and instrumentation.",
    "Write a detailed caption for this music, covering rhythm, tonality, harmony and timbre.",
    "Give a musician's description of this recording.",
]
GM_POOL = ["acoustic grand piano", "harpsichord", "church organ", "nylon-string guitar", "violin", "string ensemble", "choir aahs", "clarinet", "flute", "marimba", "trumpet", "cello"]


def _fmt_time(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def tempo_word(bpm: float) -> str:
    for limit, word in ((66, "slow (adagio)"), (76, "leisurely (andante)"), (108, "moderate (moderato)"), (132, "lively (allegro)"), (1e9, "fast (vivace)")):
        if bpm < limit:
            return word
    return "fast"


def chord_summary(chords: list, limit: int = 6) -> tuple[list[str], list[str]]:
    """(opening progression, most frequent chords) as readable names; N/X are skipped."""
    named = [simple_name(lab) for _, _, lab in chords if lab not in ("N", "X")]
    opening: list[str] = []
    for name in named:
        if not opening or opening[-1] != name:
            opening.append(name)
        if len(opening) >= limit:
            break
    common = [n for n, _ in Counter(named).most_common(3)]
    return opening, common


def caption(facts: dict, tags: dict, rng: random.Random) -> str:
    bpm, key, meter = facts["tempo_bpm"], facts["key"], facts["time_signature"]
    tonic, mode = key.split()
    dur = facts["duration_s"]
    sentences: list[str] = []
    openers = [
        f"This {_fmt_time(dur)}-long piece moves at about {bpm:.0f} BPM, a {tempo_word(bpm)} pace.",
        f"Running {_fmt_time(dur)}, the music keeps a {tempo_word(bpm)} pulse of roughly {bpm:.0f} BPM.",
        f"A {tempo_word(bpm)} performance at around {bpm:.0f} BPM, lasting {_fmt_time(dur)}.",
    ]
    sentences.append(rng.choice(openers))
    if meter != "unknown":
        sentences.append(rng.choice([
            f"The beats group in {meter} time, with a downbeat every {meter.split('/')[0]} beats.",
            f"It is felt in {meter}: bars of {meter.split('/')[0]} beats.",
        ]))
    sentences.append(rng.choice([
        f"Tonally it centres on {tonic} {mode}, which gives it a {'bright, settled' if mode == 'major' else 'darker, more plaintive'} colour.",
        f"The key is {tonic} {mode}; the {mode} mode lends a {'clear and open' if mode == 'major' else 'sombre'} character.",
    ]))
    opening, common = chord_summary(facts["chords"])
    if opening:
        sentences.append(rng.choice([
            f"Harmonically it opens with the progression {' - '.join(opening)}.",
            f"The harmony begins {' - '.join(opening)}.",
        ]))
    if len(common) > 1:
        sentences.append(f"The most frequent chords are {', '.join(common[:-1])} and {common[-1]}.")
    instruments = tags.get("instruments") or []
    if instruments:
        inst = " and ".join(instruments)
        sentences.append(rng.choice([f"The timbre is that of {inst}.", f"It is played on {inst}.", f"The sound is carried by {inst}."]))
    tradition = tags.get("tradition")
    if tradition:
        sentences.append(rng.choice([f"Stylistically it belongs to the {tradition} repertoire.", f"The material comes from the {tradition} tradition."]))
    n_seg = len(facts.get("segments", []))
    if n_seg > 1:
        sentences.append(f"Across its {n_seg} thirty-second windows the tempo stays near {bpm:.0f} BPM.")
    return " ".join(sentences)


def _options(correct: str, distractors: list[str], rng: random.Random) -> tuple[list[str], str]:
    pool = [d for d in dict.fromkeys(distractors) if d != correct][:3]
    if len(pool) < 3:
        raise ValueError("not enough distinct distractors")
    options = pool + [correct]
    rng.shuffle(options)
    return options, LETTERS[options.index(correct)]


def _key_distractors(key: str) -> list[str]:
    tonic, mode = key.split()
    pc = PITCH_CLASSES.index(tonic)
    relative = f"{PITCH_CLASSES[(pc + 9) % 12]} minor" if mode == "major" else f"{PITCH_CLASSES[(pc + 3) % 12]} major"
    parallel = f"{tonic} {'minor' if mode == 'major' else 'major'}"
    tritone = f"{PITCH_CLASSES[(pc + 6) % 12]} {mode}"
    second = f"{PITCH_CLASSES[(pc + 2) % 12]} {mode}"
    return [relative, parallel, tritone, second]


def mcq_items(facts: dict, tags: dict, rng: random.Random) -> list[dict]:
    """Four-option questions, each with the fact id it is grounded in."""
    items: list[dict] = []
    bpm = round(facts["tempo_bpm"])
    if bpm > 0:
        # Distractors differ by at least ~25%, so the question is answerable by ear.
        distractors = [f"about {round(bpm * f)} BPM" for f in (0.5, 0.75, 1.33, 1.5, 2.0) if 20 <= round(bpm * f) <= 300]
        rng.shuffle(distractors)
        opts, letter = _options(f"about {bpm} BPM", distractors, rng)
        items.append({"skill": "attribute", "question": "What is the approximate tempo of this piece?", "options": opts, "answer_letter": letter, "fact_ids": ["tempo_bpm"]})
    opts, letter = _options(facts["key"], _key_distractors(facts["key"]), rng)
    items.append({"skill": "attribute", "question": "In which key is this piece?", "options": opts, "answer_letter": letter, "fact_ids": ["key"]})
    if facts["time_signature"] != "unknown":
        opts, letter = _options(facts["time_signature"], ["2/4", "3/4", "4/4", "6/8", "5/4"], rng)
        items.append({"skill": "attribute", "question": "What is the meter of this piece?", "options": opts, "answer_letter": letter, "fact_ids": ["time_signature"]})
    named = [(i, s, simple_name(lab)) for i, (s, _, lab) in enumerate(facts["chords"]) if lab not in ("N", "X")]
    if named:
        i, start, first = named[0]
        present = {n for _, _, n in named}
        roots = [r for r in PITCH_CLASSES if r not in present and f"{r}m" not in present]
        rng.shuffle(roots)
        distractors = [r + ("m" if k % 2 else "") for k, r in enumerate(roots)]
        opts, letter = _options(first, distractors, rng)
        items.append({"skill": "harmony", "question": f"Which chord is heard first (at {_fmt_time(start)})?", "options": opts, "answer_letter": letter, "fact_ids": [f"chords[{i}]"]})
    instruments = tags.get("instruments") or []
    if instruments:
        pool = [g for g in GM_POOL if g not in instruments]
        rng.shuffle(pool)
        opts, letter = _options(instruments[0], pool, rng)
        items.append({"skill": "attribute", "question": "Which instrument plays this piece?", "options": opts, "answer_letter": letter, "fact_ids": ["tags.instruments"]})
    for it in items:
        it["answer"] = it["options"][LETTERS.index(it["answer_letter"])]
        it["prompt"] = mcq_prompt(it["question"], it["options"])
    return items


def think_steps(item: dict, facts: dict, tags: dict) -> list[str] | None:
    """Reasoning steps grounded in the same facts as the answer; None if no chain applies."""
    fid = item["fact_ids"][0]
    letter, answer = item["answer_letter"], item["answer"]
    if fid == "tempo_bpm":
        beats = facts["beats"]
        ibi = (beats[-1] - beats[0]) / max(len(beats) - 1, 1)
        return [
            f"The beat tracker finds {len(beats)} beats between {beats[0]:.1f} s and {beats[-1]:.1f} s.",
            f"The beats are about {ibi:.2f} s apart, and 60 / {ibi:.2f} gives roughly {facts['tempo_bpm']:.0f} BPM.",
            f"Option ({letter}) {answer} matches; the others are off by a factor of 1.33 or more.",
        ]
    if fid == "key":
        tonic, mode = facts["key"].split()
        opening, _ = chord_summary(facts["chords"], 4)
        steps = [f"The pitch-class profile of the piece points to a tonal centre on {tonic}."]
        if opening:
            steps.append(f"The opening chords {' - '.join(opening)} support that centre.")
        steps.append(f"The third above the tonic is {'major' if mode == 'major' else 'minor'}, so the key is {tonic} {mode}.")
        steps.append(f"That is option ({letter}).")
        return steps
    if fid == "time_signature":
        n = facts["time_signature"].split("/")[0]
        return [
            f"Downbeats fall every {n} beats.",
            f"Grouping beats in {n}s gives the meter {facts['time_signature']}.",
            f"So the answer is ({letter}).",
        ]
    if fid.startswith("chords["):
        return [
            f"The first chord change after the start is labelled {answer}.",
            f"Among the options only ({letter}) names that chord.",
        ]
    return None


def think_sample(item: dict, facts: dict, tags: dict) -> tuple[str, str, list[str]] | None:
    steps = think_steps(item, facts, tags)
    if not steps:
        return None
    think = " ".join(f"Step {i + 1}: {s}" for i, s in enumerate(steps))
    human = f"{item['prompt']}\n{THINK_INSTRUCTION}"
    return human, f"<think>{think}</think><answer>({item['answer_letter']}) {item['answer']}</answer>", steps


__all__ = ["CAPTION_PROMPTS", "caption", "mcq_items", "think_sample"]
