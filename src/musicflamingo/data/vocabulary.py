"""The instrument and genre vocabulary the claim checker recognises mentions from.

Instruments, from three sources:
- all 128 General MIDI level-1 program names (MIDI Manufacturers Association,
  "General MIDI System Level 1", 1991), with their parenthesised variants
  turned into plain phrases ("acoustic guitar (nylon)" -> "nylon guitar");
- every instrument class of `music21.instrument` (its `instrumentName` and
  `bestName()`), minus voice types, which are vocal claims;
- the instruments of the demo corpus's traditions (Chinese, Irish/Scottish,
  Hawaiian, Renaissance, German and American folk, ...) and other common
  ones outside both.

Synonyms are groups of names for one instrument ("violin", "fiddle");
families ("strings", "brass", "keyboard") stand for any member. Singular
and plural forms come from `inflect` (no hand-written suffix rules).
`instrument_mentions(text)` yields (start, end, canonical name);
`supported_names(tagged)` is what a track's tags let a text name.
"""

from __future__ import annotations

import re
from functools import lru_cache

import inflect

GM_PROGRAMS: tuple[str, ...] = (
    "acoustic grand piano", "bright acoustic piano", "electric grand piano", "honky-tonk piano", "electric piano 1", "electric piano 2",
    "harpsichord", "clavinet", "celesta", "glockenspiel", "music box", "vibraphone", "marimba", "xylophone", "tubular bells", "dulcimer",
    "drawbar organ", "percussive organ", "rock organ", "church organ", "reed organ", "accordion", "harmonica", "tango accordion",
    "acoustic guitar (nylon)", "acoustic guitar (steel)", "electric guitar (jazz)", "electric guitar (clean)", "electric guitar (muted)",
    "overdriven guitar", "distortion guitar", "guitar harmonics", "acoustic bass", "electric bass (finger)", "electric bass (pick)",
    "fretless bass", "slap bass 1", "slap bass 2", "synth bass 1", "synth bass 2", "violin", "viola", "cello", "contrabass",
    "tremolo strings", "pizzicato strings", "orchestral harp", "timpani", "string ensemble 1", "string ensemble 2", "synth strings 1",
    "synth strings 2", "choir aahs", "voice oohs", "synth voice", "orchestra hit", "trumpet", "trombone", "tuba", "muted trumpet",
    "french horn", "brass section", "synth brass 1", "synth brass 2", "soprano sax", "alto sax", "tenor sax", "baritone sax", "oboe",
    "english horn", "bassoon", "clarinet", "piccolo", "flute", "recorder", "pan flute", "blown bottle", "shakuhachi", "whistle",
    "ocarina", "lead 1 (square)", "lead 2 (sawtooth)", "lead 3 (calliope)", "lead 4 (chiff)", "lead 5 (charang)", "lead 6 (voice)",
    "lead 7 (fifths)", "lead 8 (bass + lead)", "pad 1 (new age)", "pad 2 (warm)", "pad 3 (polysynth)", "pad 4 (choir)", "pad 5 (bowed)",
    "pad 6 (metallic)", "pad 7 (halo)", "pad 8 (sweep)", "fx 1 (rain)", "fx 2 (soundtrack)", "fx 3 (crystal)", "fx 4 (atmosphere)",
    "fx 5 (brightness)", "fx 6 (goblins)", "fx 7 (echoes)", "fx 8 (sci-fi)", "sitar", "banjo", "shamisen", "koto", "kalimba", "bagpipe",
    "fiddle", "shanai", "tinkle bell", "agogo", "steel drums", "woodblock", "taiko drum", "melodic tom", "synth drum", "reverse cymbal",
    "guitar fret noise", "breath noise", "seashore", "bird tweet", "telephone ring", "helicopter", "applause", "gunshot",
)
assert len(GM_PROGRAMS) == 128

# Instruments of the corpus traditions and other common ones that neither GM nor music21 names.
OTHER_INSTRUMENTS: tuple[str, ...] = (
    # Chinese
    "erhu", "pipa", "guzheng", "guqin", "dizi", "xiao", "suona", "sheng", "yangqin", "ruan", "gong",
    # Irish, Scottish, English
    "tin whistle", "low whistle", "uilleann pipes", "highland pipes", "bodhran", "bodhrán", "concertina", "melodeon", "bouzouki",
    "button accordion", "spoons", "bones",
    # Hawaiian, American
    "ukulele", "steel guitar", "slack-key guitar", "lap steel", "slide guitar", "ipu", "pahu", "washboard", "jug", "kazoo", "fiddle",
    "upright bass", "double bass", "dobro", "autoharp", "mandolin", "harmonium", "pump organ", "banjolele",
    # Renaissance, Baroque, Classical
    "lute", "theorbo", "viol", "viola da gamba", "viola d'amore", "rebec", "recorder", "sackbut", "cornett", "cornetto", "shawm",
    "crumhorn", "virginal", "spinet", "clavichord", "fortepiano", "hurdy-gurdy", "psaltery", "portative organ", "natural trumpet",
    "natural horn", "serpent", "lyre", "cittern", "chitarrone",
    # German and Central European
    "zither", "alphorn", "hackbrett", "glass harmonica",
    # elsewhere
    "didgeridoo", "mbira", "kora", "balalaika", "domra", "duduk", "zurna", "saz", "baglama", "oud", "qanun", "ney", "darbuka",
    "riq", "djembe", "cajon", "cajón", "tabla", "tanpura", "veena", "sarangi", "santoor", "sarod", "bansuri", "mridangam",
    "gamelan", "angklung", "gender", "charango", "cavaquinho", "cuatro", "bandoneon", "bandoneón", "berimbau", "cuica",
    "pandeiro", "surdo", "guiro", "claves", "bongos", "bongo", "congas", "conga", "timbales", "cowbell", "shekere", "talking drum", "steelpan",
    "steel pan", "hang drum", "handpan", "theremin", "ondes martenot", "mellotron", "moog", "synthesizer", "synth", "drum machine",
    "turntable", "turntables", "sampler", "vocoder", "euphonium", "flugelhorn", "cornet", "sousaphone", "baritone horn",
    "contrabassoon", "bass clarinet", "alto flute", "bass flute", "cor anglais", "saxophone", "sax", "drum kit", "drum set",
    "drums", "drum", "snare", "snare drum", "bass drum", "kick drum", "hi-hat", "hi hat", "hihat", "cymbal", "ride cymbal",
    "crash cymbal", "tom", "toms", "tom-tom", "floor tom", "rim", "tambourine", "triangle", "castanets", "maracas", "shaker",
    "chimes", "bells", "handbells", "sleigh bells", "church bells", "celeste", "electric guitar", "acoustic guitar",
    "classical guitar", "twelve-string guitar", "bass guitar", "electric bass", "piano", "grand piano", "upright piano",
    "keyboard", "organ", "hammond organ", "pipe organ", "rhodes", "wurlitzer", "clavinet", "guitar", "choir", "orchestra",
    "string quartet", "brass band", "big band", "horn", "horns", "harp", "pianoforte", "violoncello", "squeezebox",
    "mouth organ", "kettle drums", "kettledrums", "vibes", "glock", "uke", "six-string", "hand claps", "handclaps", "claps",
    "finger snaps", "beatbox", "string quartet",
)

# Who plays it names it: "the pianist" is a piano claim.
PERFORMERS: dict[str, str] = {
    "pianist": "piano", "guitarist": "guitar", "violinist": "violin", "fiddler": "fiddle", "violist": "viola", "cellist": "cello",
    "drummer": "drums", "percussionist": "percussion", "saxophonist": "saxophone", "trumpeter": "trumpet", "trumpet player": "trumpet",
    "trombonist": "trombone", "organist": "organ", "harpist": "harp", "flautist": "flute", "flutist": "flute", "clarinetist": "clarinet",
    "clarinettist": "clarinet", "oboist": "oboe", "bassoonist": "bassoon", "piper": "bagpipe", "harpsichordist": "harpsichord",
    "accordionist": "accordion", "banjoist": "banjo", "mandolinist": "mandolin", "lutenist": "lute", "keyboardist": "keyboard",
    "tubist": "tuba", "timpanist": "timpani", "sitarist": "sitar", "vibraphonist": "vibraphone", "xylophonist": "xylophone",
    "double bassist": "double bass", "hornist": "horn", "horn player": "horn", "bass player": "bass guitar", "bassist": "bass guitar",
    "dj": "turntable", "beatboxer": "beatbox",
}

# One instrument, several names.
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("violin", "fiddle"),
    ("cello", "violoncello"),
    ("contrabass", "double bass", "upright bass", "string bass", "acoustic bass", "bass viol"),
    ("acoustic grand piano", "piano", "grand piano", "pianoforte", "acoustic piano", "concert grand"),
    ("bright acoustic piano", "piano", "acoustic piano"),
    ("electric piano", "rhodes", "wurlitzer", "e-piano", "electric piano 1", "electric piano 2"),
    ("acoustic guitar (nylon)", "nylon-string guitar", "nylon guitar", "classical guitar", "spanish guitar", "acoustic guitar", "guitar"),
    ("acoustic guitar (steel)", "steel-string guitar", "acoustic guitar", "guitar", "six-string"),
    ("church organ", "pipe organ", "organ"),
    ("string ensemble", "string ensemble 1", "string ensemble 2", "strings", "string section", "string orchestra"),
    ("choir aahs", "choir", "chorus of voices", "vocal ensemble"),
    ("bagpipe", "bagpipes", "pipes", "highland pipes", "great highland bagpipe"),
    ("accordion", "squeezebox", "button accordion"),
    ("harmonica", "mouth organ", "blues harp"),
    ("ukulele", "uke"),
    ("vibraphone", "vibes"),
    ("glockenspiel", "glock"),
    ("timpani", "kettle drums", "kettledrums", "kettle drum"),
    ("saxophone", "sax"),
    ("english horn", "cor anglais"),
    ("celesta", "celeste"),
    ("orchestral harp", "harp", "concert harp"),
    ("drums", "drum kit", "drum set", "kit", "drum"),
    ("hi-hat", "hi hat", "hihat", "hi-hat cymbal"),
    ("steel drums", "steel drum", "steelpan", "steel pan"),
    ("bodhran", "bodhrán"),
    ("cajon", "cajón"),
    ("bandoneon", "bandoneón", "tango accordion"),
    ("shanai", "shehnai"),
    ("taiko drum", "taiko"),
)

# Family words: naming the family is supported by any tagged member (by a word of its name).
FAMILIES: dict[str, tuple[str, ...]] = {
    # "strings" / "string section" name an ensemble: the synonyms of "string ensemble", not a family of solo instruments.
    "keyboard": ("piano", "organ", "harpsichord", "clavinet", "celesta", "clavichord", "synth", "keyboard", "accordion"),
    "brass": ("trumpet", "trombone", "tuba", "horn", "brass", "cornet", "flugelhorn", "euphonium"),
    "woodwind": ("flute", "clarinet", "oboe", "bassoon", "piccolo", "recorder", "sax", "saxophone", "horn", "whistle", "ocarina"),
    "percussion": ("drum", "drums", "timpani", "cymbal", "marimba", "xylophone", "vibraphone", "glockenspiel", "tubular bells", "woodblock",
                   "agogo", "taiko", "tom", "tambourine", "bells", "celesta", "kalimba", "steel drums"),
    "orchestra": ("string ensemble", "orchestra", "orchestra hit"),
    "ensemble": ("ensemble",),
    "synthesizer": ("synth", "lead", "pad", "fx"),
    "pipe": ("organ",),  # "sustained pipe tones" of an organ (a bagpipe's pipes are its own synonym)
    # "drums" is true of a tabla or a conga (the real benchmark's hand-drum recordings): the hypernym, never the reverse.
    "drum": ("tabla", "conga", "congas", "djembe", "surdo", "bongo", "bongos", "tom-tom", "tom-toms", "timbales", "taiko", "talking drum",
             "snare drum", "bass drum", "timpani", "mridangam", "dhol", "bodhran", "darbuka"),
}
# Words that end a name without naming an instrument on their own ("choir aahs" is not an "aahs").
_GENERIC_HEADS = {"ensemble", "section", "aahs", "oohs", "pad", "lead", "kit", "set", "voice", "group", "fx", "hit", "noise", "ring",
                  "tweet", "bass", "harmonics", "harmonic", "aah", "ooh", "echo", "box", "block", "bottle", "band", "quartet", "rim", "bones",
                  "spoons", "jug", "gender", "noise", "shore", "atmosphere", "brightness", "crystal", "soundtrack", "rain", "goblin", "sweep",
                  "halo", "fifth", "square", "sawtooth", "chiff", "charang", "warm", "bowed", "metallic", "polysynth", "age"}
# music21 classes that are voice types or abstractions, not instruments.
_NOT_INSTRUMENTS = {"alto", "baritone", "bass", "soprano", "mezzo-soprano", "tenor", "voice", "conductor", "stringinstrument",
                    "brass", "percussion", "keyboard", "woodwind", "whip", "ratchet", "siren", "wind machine", "sampler"}
# Bare words too ambiguous to be an instrument mention ("bass line", "key", "gender", "rim", "ring", "tom" as a name).
_AMBIGUOUS = {"bass", "keys", "voice", "voices", "gender", "rim", "bones", "spoons", "jug", "kit", "lead", "pad", "ensemble",
              "chorus", "bottle", "box", "block", "tom", "toms", "reed", "shaker", "1", "2"}
# Names whose final "s" is not a plural.
_INVARIANT = {"rhodes", "timpani", "claves", "timbales", "vibes"}

GENRES: tuple[str, ...] = (
    "heavy metal", "metal", "hard rock", "rock", "punk", "grunge", "pop", "k-pop", "j-pop", "techno", "house music", "trance", "dubstep",
    "drum and bass", "edm", "electronica", "disco", "funk", "soul music", "r&b", "hip-hop", "hip hop", "rap", "trap", "reggae", "ska",
    "dancehall", "jazz", "bebop", "big band", "blues", "gospel", "country music", "bluegrass", "zydeco", "bossa nova", "samba",
    "salsa", "tango", "flamenco", "afrobeat", "highlife", "cumbia", "polka", "opera", "ragtime", "chorale", "hymn", "madrigal",
    "chanson", "motet", "cantata", "fugue", "sonata", "symphony", "reel", "jig", "hornpipe", "strathspey", "sea shanty",
    "lullaby", "folk", "baroque", "renaissance", "classical", "lo-fi", "shoegaze", "waltz", "march", "minuet", "gavotte", "sarabande",
    "gigue", "mazurka", "nocturne", "etude", "prelude",
    "emo", "indie", "grime", "drill", "gamelan", "raga", "qawwali", "fado", "klezmer", "mariachi", "calypso", "soca", "enka",
)
# What a tradition tag implies (its own words count too).
GENRE_IMPLIED: dict[str, tuple[str, ...]] = {
    "bach": ("baroque", "chorale", "hymn", "classical"), "chorale": ("hymn", "baroque"),
    "fiddle": ("reel", "jig", "hornpipe", "strathspey", "folk", "dance tune"), "irish": ("folk", "reel", "jig", "hornpipe"),
    "scottish": ("folk", "reel", "jig", "strathspey"), "essen": ("folk",), "folk": ("folk",),
    "ragtime": ("rag", "ragtime"), "joplin": ("ragtime",), "madrigal": ("renaissance",), "monteverdi": ("renaissance", "baroque", "madrigal"),
    "chanson": ("renaissance",), "josquin": ("renaissance", "motet", "mass", "chanson"), "haydn": ("classical", "string quartet"),
    "quartet": ("classical",), "air": ("folk",), "dance": ("folk",), "nottingham": ("folk", "jig", "reel", "hornpipe"),
}


@lru_cache(maxsize=1)
def _engine() -> inflect.engine:
    return inflect.engine()


def _clean(name: str) -> str:
    """Lowercase, hyphens and spaces as one space: 'Hi-Hat' -> 'hi hat'."""
    return re.sub(r"[\s\-]+", " ", name.strip().lower())


def singular(phrase: str) -> str:
    """The singular of a (cleaned) noun phrase: its last word through inflect ('steel drums' -> 'steel drum')."""
    words = phrase.split(" ")
    if words[-1] in _INVARIANT:
        return phrase
    one = _engine().singular_noun(words[-1])
    if one and not words[-1].endswith(("ss", "us", "is")):
        words[-1] = one
    return " ".join(words)


def _gm_forms(name: str) -> list[str]:
    """'acoustic guitar (nylon)' -> ['acoustic guitar', 'nylon acoustic guitar', 'nylon guitar']; numbers dropped."""
    m = re.match(r"^(.*?)\s*(?:\((.*)\))?$", name)
    base = re.sub(r"\s+\d+$", "", m.group(1)).strip()
    forms = [base]
    if m.group(2):
        var = m.group(2).replace("+", "and")
        head = base.split(" ")[-1]
        forms += [f"{var} {base}", f"{var} {head}"]
    return forms


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    """(surface form -> singular canonical form, canonical -> synonym set)."""
    names: list[str] = []
    for gm in GM_PROGRAMS:
        names += _gm_forms(gm)
    try:
        names += _music21_names()
    except Exception:  # music21 is a dependency; a broken install only narrows the vocabulary
        pass
    names += list(OTHER_INSTRUMENTS) + [n for group in SYNONYMS for n in group] + list(FAMILIES)
    canon: dict[str, str] = {}
    for n in names:
        c = singular(_clean(n))
        # Head nouns of multi-word names are names too ("church organ" -> "organ"), unless generic.
        for form in {c, *_suffixes(c)}:
            if form in _AMBIGUOUS or form.isdigit():
                continue
            canon.setdefault(form, form)
            plural = _clean(_engine().plural_noun(form.split(" ")[-1]) or form.split(" ")[-1])
            canon.setdefault(" ".join(form.split(" ")[:-1] + [plural]), form)
    for who, what in PERFORMERS.items():
        for form in (who, _clean(_engine().plural_noun(who.split(" ")[-1]) or who)):
            full = " ".join(who.split(" ")[:-1] + [form.split(" ")[-1]]) if " " in who else form
            canon[_clean(full)] = canon.get(singular(_clean(what)), singular(_clean(what)))
    groups: dict[str, set[str]] = {}
    for group in SYNONYMS:
        members = {singular(_clean(n)) for n in group}
        for m in members:
            groups.setdefault(m, set()).update(members)
    syn = {k: frozenset(v) for k, v in groups.items()}
    return canon, syn


def _suffixes(c: str) -> list[str]:
    words = c.split(" ")
    return [" ".join(words[i:]) for i in range(1, len(words)) if words[-1] not in _GENERIC_HEADS]


def _music21_names() -> list[str]:
    import inspect

    from music21 import instrument

    out = []
    for _, cls in inspect.getmembers(instrument, inspect.isclass):
        if issubclass(cls, instrument.Instrument) and cls is not instrument.Instrument:
            try:
                obj = cls()
            except Exception:
                continue
            for name in (obj.instrumentName, obj.bestName()):
                if name and name.lower() not in _NOT_INSTRUMENTS:
                    out.append(name)
    return out


_TOKEN_RE = re.compile(r"[A-Za-zÀ-ÿ'&]+")
_JOINER_RE = re.compile(r"[\s\-]+")
_NOT_AN_INSTRUMENT_SUFFIX = re.compile(r"-(?:like|ish|esque|y)\b", re.I)


@lru_cache(maxsize=1)
def _first_words() -> dict[str, int]:
    """First word of every name -> the most words a name starting with it has."""
    out: dict[str, int] = {}
    for form in _tables()[0]:
        words = form.split(" ")
        out[words[0]] = max(out.get(words[0], 0), len(words))
    return out


def instrument_mentions(text: str) -> list[tuple[int, int, str]]:
    """(start, end, canonical singular name) of every instrument mention in `text`, longest names first.

    Word n-grams are looked up in the vocabulary (a hyphen or a space between the words of a name); a
    hyphenated compound still names the instrument ("bagpipe-led"), a "-like" one does not ("organ-like").
    """
    canon, firsts = _tables()[0], _first_words()
    toks = [(m.start(), m.end(), m.group(0).lower()) for m in _TOKEN_RE.finditer(text)]
    out, i = [], 0
    while i < len(toks):
        found = None
        longest = firsts.get(toks[i][2], 0)  # names starting with this word have at most this many words
        if longest and (i == 0 or text[toks[i][0] - 1] != "-"):
            for n in range(min(longest, len(toks) - i), 0, -1):
                span = toks[i: i + n]
                if any(not _JOINER_RE.fullmatch(text[a[1]: b[0]]) for a, b in zip(span, span[1:])):
                    continue
                key = " ".join(t[2] for t in span)
                if key in canon and not _NOT_AN_INSTRUMENT_SUFFIX.match(text, span[-1][1]):
                    found = (span[0][0], span[-1][1], canon[key], n)
                    break
        if found:
            out.append(found[:3])
            i += found[3]
        else:
            i += 1
    return out


def supported_names(tagged: list[str]) -> set[str]:
    """Every canonical name a text may use for these tagged instruments: synonyms, head nouns, GM forms, families."""
    return set(_supported(tuple(tagged)))


@lru_cache(maxsize=4096)
def _supported(tagged: tuple[str, ...]) -> frozenset[str]:
    canon, syn = _tables()
    out: set[str] = set()
    for name in tagged:
        forms = set()
        for f in _gm_forms(name.lower()) if "(" in name else [name]:
            c = singular(_clean(f))
            forms |= {c, *_suffixes(c)} | set(syn.get(c, ()))
        for f in list(forms):
            forms |= set(syn.get(f, ()))
            forms |= set(_suffixes(f))
        out |= {canon.get(f, f) for f in forms}
        words = {w for f in forms for w in f.split(" ")} | forms
        for family, members in FAMILIES.items():
            if words & {singular(_clean(m)) for m in members} or words & set(members):
                out.add(singular(_clean(family)))
    return frozenset(out)


def genre_mentions(text: str) -> list[tuple[int, int, str]]:
    if not _genre_words() & {t.lower() for t in _TOKEN_RE.findall(text)}:
        return []  # speed only: no word of any genre name
    return [(m.start(), m.end(), m.group(1).lower()) for m in _genre_pattern().finditer(text)]


@lru_cache(maxsize=1)
def _genre_words() -> frozenset[str]:
    return frozenset(w for g in GENRES for w in _TOKEN_RE.findall(g.lower()))


@lru_cache(maxsize=1)
def _genre_pattern() -> re.Pattern:
    body = "|".join(r"[\s\-]+".join(map(re.escape, g.split(" "))) for g in sorted(GENRES, key=len, reverse=True))
    return re.compile(r"(?<![\w\-])(" + body + r")(?![\w\-])", re.I)


def genre_supported(genre: str, tags_text: str) -> bool:
    """Whether the catalogue's tradition/genre text supports naming `genre`."""
    low = tags_text.lower()
    g = _clean(genre)
    if g in _clean(low):
        return True
    implied = {w for key, words in GENRE_IMPLIED.items() if key in low for w in words}
    return g in implied
