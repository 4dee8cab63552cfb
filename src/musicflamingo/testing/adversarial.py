"""An adversarial corpus for the claim checker: false statements it has never seen, and true ones phrased alike.

Independent of `musicflamingo.data.builtin_writer` and of the checker's
vocabulary by construction: its own sentence frames and its own instrument
lists (written here by hand), numbers spelled by `inflect`. Every statement
is about one track's facts and tags:

    kind                    example (false)
    instrument_singular     "A droning bagpipe carries the melody."
    instrument_plural       "Bagpipes swell behind the tune."
    instrument_synonym      "A fiddle doubles the line." (no violin)
    instrument_outside_gm   "A theremin hovers above the texture."
    number_words            "It moves at one hundred and forty-two beats per minute."
    relative                "It runs twice as fast as a march."
    negation                "It is not in E major." (it is)
    hedge                   "It seems to be in C# minor."
    split                   "One figure stands out in the tempo. It sits at 97."
    modulation              "At 0:42 it modulates to F major." (no modulation)
    vocals                  "A soprano sings the verses." (instrumental)
    lyric                   'The word "ocean" is sung near the end.'
    count                   "The form falls into seven sections."
    loudness                "It is mastered to about minus nine LUFS."
    genre                   "This is a heavy metal track."

`statements(facts, tags, rng)` returns `Statement(kind, text, true, marker)`;
`marker` is the substring carrying the claim (grep it in a release).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import inflect

_ENG = inflect.engine()
# Its own note names on purpose: the generator is an independent oracle and imports nothing of the
# writer, the checker or their shared vocabulary (tests/data/test_adversarial.py enforces it).
_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]

# Instruments heard in some General MIDI bank, in common words (singular).
_IN_GM = ["bagpipe", "drum", "cymbal", "hi-hat", "snare drum", "banjo", "sitar", "trumpet", "trombone", "tuba", "saxophone",
          "harmonica", "accordion", "oboe", "bassoon", "piccolo", "recorder", "marimba", "xylophone", "vibraphone", "glockenspiel",
          "harp", "cello", "viola", "violin", "flute", "clarinet", "organ", "harpsichord", "celesta", "koto", "shamisen",
          "shakuhachi", "kalimba", "ocarina", "tubular bell", "timpani", "electric guitar", "bass guitar", "synthesizer",
          "steel drum", "taiko drum", "woodblock", "music box", "french horn", "english horn", "pan flute", "fiddle",
          "acoustic guitar", "electric piano", "church organ", "piano", "tambourine", "tom-tom"]
# Instruments outside the GM programs' names.
_OUTSIDE_GM = ["theremin", "didgeridoo", "hurdy-gurdy", "mbira", "balalaika", "bouzouki", "duduk", "kora", "zither", "harmonium",
               "mellotron", "theorbo", "sarangi", "santoor", "erhu", "pipa", "guzheng", "dizi", "suona", "bodhrán", "uilleann pipe",
               "concertina", "cajón", "djembe", "darbuka", "tabla", "tanpura", "veena", "oud", "qanun", "charango", "cavaquinho",
               "euphonium", "flugelhorn", "cornet", "sousaphone", "contrabassoon", "lute", "viola da gamba", "crumhorn", "shawm",
               "sackbut", "kazoo", "washboard", "castanet", "cowbell", "bongo", "conga", "drum machine", "turntable", "ukulele",
               "mandolin", "dulcimer", "lyre", "handbell", "gong", "triangle", "steel guitar", "slide guitar", "upright bass"]
# Other names of an instrument: (what is said, the GM-ish name it means).
_SYNONYMS = [("fiddle", "violin"), ("sax", "saxophone"), ("double bass", "contrabass"), ("pipes", "bagpipe"), ("squeezebox", "accordion"),
             ("uke", "ukulele"), ("vibes", "vibraphone"), ("glock", "glockenspiel"), ("drum kit", "drums"), ("violoncello", "cello"),
             ("pianoforte", "piano"), ("Rhodes", "electric piano"), ("kettle drums", "timpani"), ("six-string", "guitar"),
             ("mouth organ", "harmonica"), ("pipe organ", "organ"), ("Spanish guitar", "guitar"), ("grand piano", "piano")]
_ADJ = ["droning", "bright", "distant", "warm", "lone", "muted", "gentle", "wheezing", "plaintive", "busy"]
_ROLE = ["carries the melody", "doubles the tune", "fills out the texture", "enters in the second half", "answers each phrase",
         "holds a drone underneath", "keeps time in the background"]
_GENRES_FALSE = ["heavy metal", "techno", "bossa nova", "reggae", "bebop jazz", "hip-hop", "disco", "K-pop", "dubstep", "flamenco"]
_LYRIC_FALSE = ["ocean", "whiskey", "freedom", "telephone", "midnight", "silver", "winter", "mountain", "sorrow", "highway"]
_VOICE = ["A soprano", "A male voice", "A female singer", "A child's voice", "A choir of voices"]


@dataclass(frozen=True)
class Statement:
    kind: str
    text: str
    true: bool
    marker: str  # the substring carrying the claim


def _mmss(t: float) -> str:
    return f"{int(t // 60)}:{int(t % 60):02d}"


def _words(n: int) -> str:
    return _ENG.number_to_words(n, andword="and")


def _plural(noun: str) -> str:
    return noun if noun.endswith("s") else _ENG.plural_noun(noun)


def _key_parts(key: str) -> tuple[int, str]:
    tonic, mode = key.split()
    flat = {"Db": "C#", "D#": "Eb", "Gb": "F#", "G#": "Ab", "A#": "Bb"}.get(tonic, tonic)
    return _NAMES.index(flat), mode


def _other_key(key: str, rng: random.Random, avoid: set[str]) -> str:
    pc, mode = _key_parts(key)
    while True:
        cand = f"{_NAMES[rng.randrange(12)]} {rng.choice(['major', 'minor'])}"
        if cand not in avoid and _key_parts(cand) != (pc, mode) and all(_key_parts(cand) != _key_parts(a) for a in avoid):
            return cand


def _present(tags: dict) -> set[str]:
    """Plain words of the tagged instruments (to pick absent ones); generous on purpose."""
    words = set()
    for name in tags.get("instruments") or []:
        words |= set(name.lower().replace("-", " ").split()) | {name.lower()}
    return words


_FAMILY = {"violin": {"fiddle", "violin", "string", "strings"}, "guitar": {"guitar", "six-string"}, "piano": {"piano", "pianoforte", "grand", "rhodes"},
           "organ": {"organ", "pipes"}, "string": {"violin", "viola", "cello", "fiddle", "double", "upright", "violoncello", "strings"},
           "choir": {"choir"}, "aahs": {"choir"}}


def _is_absent(name: str, tags: dict) -> bool:
    present = _present(tags)
    banned = set(present)
    for word in present:
        banned |= _FAMILY.get(word, set())
    return not (set(name.lower().replace("-", " ").split()) & banned) and name.lower() not in banned


def _absent(pool: list[str], tags: dict, rng: random.Random) -> str:
    return rng.choice([p for p in pool if _is_absent(p, tags)])


def statements(facts: dict, tags: dict, rng: random.Random) -> list[Statement]:
    """False statements of every kind (and true ones in the same frames) about one track."""
    out: list[Statement] = []
    add = lambda kind, text, true, marker: out.append(Statement(kind, text, true, marker))  # noqa: E731
    key, tempo, meter, dur = facts.get("key"), facts.get("tempo_bpm"), facts.get("time_signature"), float(facts.get("duration_s") or 0)
    section_keys = {k for _, _, k in facts.get("section_keys") or []}
    insts = [i for i in tags.get("instruments") or []]

    # Instruments: singular, plural, synonyms, outside GM; true ones name a tagged instrument.
    a = _absent(_IN_GM, tags, rng)
    add("instrument_singular", f"A {rng.choice(_ADJ)} {a} {rng.choice(_ROLE)}.", False, a)
    a = _absent(_IN_GM, tags, rng)
    add("instrument_plural", f"{_plural(a).capitalize()} {rng.choice(['swell behind the tune', 'trade short phrases', 'colour the cadences'])}.", False, _plural(a))
    syn, _ = rng.choice([s for s in _SYNONYMS if _is_absent(s[0], tags) and _is_absent(s[1], tags)])
    add("instrument_synonym", f"Listen for the {syn}, which {rng.choice(_ROLE)}.", False, syn)
    for said, meaning in _SYNONYMS:  # a true synonym: another name of a tagged instrument
        if any(meaning == name.lower() or meaning in name.lower().split() for name in tags.get("instruments") or []):
            add("instrument_synonym", f"Listen for the {said}, which {rng.choice(_ROLE)}.", True, said)
            break
    a = _absent(_OUTSIDE_GM, tags, rng)
    add("instrument_outside_gm", f"{rng.choice(['Underneath', 'Throughout', 'Near the end'])}, a {a} {rng.choice(_ROLE)}.", False, a)
    if insts:
        name = rng.choice(insts)
        add("instrument_singular", f"The {name} {rng.choice(_ROLE)}.", True, name)
        add("negation", f"There is no {name} anywhere in this recording.", False, name)
        absent = _absent(_IN_GM, tags, rng)
        add("negation", f"There is no {absent} anywhere in this recording.", True, absent)

    if tempo:
        wrong = round(tempo * rng.choice([0.62, 0.75, 1.3, 1.45]))
        add("number_words", f"It moves at {_words(wrong)} beats per minute.", False, _words(wrong))
        add("number_words", f"It moves at {_words(round(tempo))} beats per minute.", True, _words(round(tempo)))
        add("relative", f"It runs {rng.choice(['twice as fast as a march', 'at half the speed of a resting heartbeat', 'three times as fast as a funeral march', 'about as fast as a jogging pace'])}.",
            False, "as fast as" if rng.random() < 2 else "")
        add("hedge", f"The pulse {rng.choice(['seems to sit', 'is probably', 'might be'])} around {wrong} BPM.", False, f"{wrong} BPM")
        add("split", f"One figure stands out about the tempo. It sits at {wrong}.", False, f"at {wrong}.")
        add("split", f"One figure stands out about the tempo. It sits at {round(tempo)} beats per minute.", True, f"{round(tempo)} beats")
    if key:
        wrong_key = _other_key(key, rng, section_keys | {key})
        add("hedge", f"It {rng.choice(['seems to be', 'sounds like it is', 'is most likely', 'could well be'])} in {wrong_key}.", False, wrong_key)
        add("hedge", f"It {rng.choice(['seems to be', 'is most likely'])} in {key}.", True, key)
        add("negation", f"It is not in {key}.", False, f"not in {key}")
        add("negation", f"It is not in {wrong_key}.", True, f"not in {wrong_key}")
        add("split", f"The tonal centre is easy to hear. It is {wrong_key}.", False, wrong_key)
        if len(section_keys) <= 1 and dur > 20:
            t = rng.uniform(10, dur - 5)
            add("modulation", f"At {_mmss(t)} it modulates to {wrong_key}.", False, f"modulates to {wrong_key}")
            add("modulation", f"Halfway through, the music shifts into {wrong_key}.", False, f"shifts into {wrong_key}")
        else:  # a true modulation: a later section whose key differs from the one before it
            spans = facts.get("section_keys") or []
            for (_s0, _e0, before), (s, _e, k) in zip(spans, spans[1:]):
                if k != before:
                    add("modulation", f"At {_mmss(s)} it modulates to {k}.", True, f"modulates to {k}")
                    break
    if meter in ("4/4", "3/4", "2/4", "6/8"):
        spoken = {"4/4": "four-four", "3/4": "three-four", "2/4": "two-four", "6/8": "six-eight"}
        wrong_m = rng.choice([m for m in spoken if m != meter and not (m, meter) in {("2/4", "4/4"), ("4/4", "2/4")}])
        add("hedge", f"The meter is probably {spoken[wrong_m]} time.", False, spoken[wrong_m])
        add("hedge", f"The meter is probably {spoken[meter]} time.", True, spoken[meter])
        add("negation", f"It is not in {meter} time.", False, f"not in {meter}")
    if dur:
        minutes = max(1, round(dur / 60))
        wrong_min = minutes + rng.choice([2, 3, 5])
        add("number_words", f"The whole piece lasts about {_words(wrong_min)} minutes.", False, f"{_words(wrong_min)} minutes")
        add("time", f"Something new happens at {_mmss(dur + rng.uniform(30, 200))}.", False, "happens at")
        add("time", f"Something new happens at {_mmss(rng.uniform(0, max(dur - 2, 0)))}.", True, "happens at")
    sections = facts.get("sections")
    if sections:
        n = len(sections)
        add("count", f"The form falls into {_words(n + rng.choice([2, 3, 4]))} sections.", False, "sections")
        add("count", f"The form falls into {_words(n)} sections.", True, "sections")
    if facts.get("vocals") is False:
        add("vocals", f"{rng.choice(_VOICE)} sings the main melody.", False, "sings")
        add("vocals", "Nobody sings; it is purely instrumental.", True, "instrumental")
    elif facts.get("vocals") is True:
        add("negation", "There are no vocals at all.", False, "no vocals")
        lyric_words = {w.lower() for _, _, w in facts.get("words") or []} | set((facts.get("lyrics") or "").lower().split())
        word = rng.choice([w for w in _LYRIC_FALSE if w not in lyric_words])
        add("lyric", f'The word "{word}" is sung near the end.', False, f'"{word}"')
        if lyric_words:
            real = rng.choice(sorted(lyric_words))
            add("lyric", f'The word "{real}" is sung.', True, f'"{real}"')
    if facts.get("loudness_lufs") is not None:
        wrong_l = round(facts["loudness_lufs"]) + rng.choice([-9, -6, 6, 9])
        if wrong_l < 0:
            add("loudness", f"It is mastered to about minus {_words(-wrong_l)} LUFS.", False, f"minus {_words(-wrong_l)}")
        if round(facts["loudness_lufs"]) < 0:
            add("loudness", f"It is mastered to about minus {_words(-round(facts['loudness_lufs']))} LUFS.", True, "LUFS")
    add("genre", f"This is a {rng.choice(_GENRES_FALSE)} track.", False, "track.")
    if tags.get("tradition"):
        add("genre", f"It belongs to the {tags['tradition']} repertoire.", True, "repertoire")
    return out
