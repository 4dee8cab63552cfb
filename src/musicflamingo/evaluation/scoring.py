"""Scoring rules of the published music benchmarks, applied to a model's raw text outputs.

Every scorer takes `(items, outputs)` — `BenchItem`s and one output string per
item, in the same order — and returns a `ScoreResult` with one verdict dict
per item and aggregate `metrics`. A model is just `predict(items) -> list[str]`;
`evaluate(items, predict)` calls it once and scores.

Before any rule runs, `final_answer_text` reduces an output to its answer:
the content of the first `<answer>...</answer>` block when there is one, else
the text with `<think>...</think>` removed. This is our step, not part of the
upstream rules (they predate reasoning models); without it option words in a
reasoning trace would count against the model. Pass `strip_reasoning=False`
to score the raw text.

Rules:
- MuChoMusic (`extract_muchomusic_choice`, from mulab-mir/muchomusic
  `muchomusic_eval/scoring.py`): text after the last "The correct answer is:"
  is read. If exactly one distinct option letter occurs, that letter is the
  answer; otherwise the first option (in presented order) whose lowercased
  text is a substring of the lowercased output; otherwise unanswered (wrong).
  Which letters count (`letter_rule`):
    "standalone" (default): an uppercase letter among the option letters
      (A-D for four options) with no ASCII letter or digit directly before
      or after it. So "A", "(A)", "A)", "A.", "[A]", "A:", "**A**" count;
      "At", "DJ", "a)", "A1" do not. The article "A" in "A guitar ..."
      also counts: a standalone capital cannot be told apart from a marker.
    "official": the upstream check verbatim — any option-letter character
      anywhere in the text (`set("ABCD") & set(output)`), so the "D" in
      "Drums" counts. Use it to reproduce published numbers exactly.
  Accuracy overall and by genre, by each music_reasoning and music_knowledge
  category, and over items having any reasoning / knowledge category.
- MMAU string match (`mmau_string_match`, verbatim from Sakshi113/MMAU
  evaluation.py; MMAR's evaluation.py uses the same function): tokens are
  `\\b\\w+\\b` runs of the lowercased text (punctuation dropped). Correct iff
  the output has tokens, contains every answer token, and contains no token of
  a wrong choice — wrong-choice tokens that also occur in the answer are
  ignored. Used for MMAU, MMAR and (as a deterministic stand-in for its
  NV-Embed-v2 similarity matcher) MMAU-Pro's closed-form questions.
- Classification (`map_to_label`): the output (lowercased, NFKC, "_"/"-" and
  punctuation read as spaces) is first compared with each label and synonym
  as a whole (closed-set exact answer); otherwise each label and synonym is
  searched as a whole word or phrase (optional plural "s"/"es"); a mention
  inside a longer mention of another label is dropped ("double bass" is a
  string, not "bass"); exactly one remaining label is the answer, none or
  several is wrong. Negations are not understood ("not rock" mentions rock).
- Lyrics: corpus WER for English, corpus CER for Chinese, with jiwer, after
  `normalise_english` / `normalise_chinese` (see ENGLISH_NORMALISATION and
  CHINESE_NORMALISATION, which go into the report). Items whose normalised
  reference is empty are skipped and counted.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

from musicflamingo.evaluation import paper
from musicflamingo.evaluation.benchmarks.base import BenchItem, letters
from musicflamingo.think_answer import final_answer_text

# ------------------------------------------------------------------ result type


@dataclass
class ScoreResult:
    benchmark: str
    rule: str
    metrics: dict
    verdicts: list[dict] = field(default_factory=list)
    normalisation: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------ common



def _check(items: Sequence[BenchItem], outputs: Sequence[str]) -> None:
    if len(items) != len(outputs):
        raise ValueError(f"got {len(outputs)} outputs for {len(items)} items")
    bad = [i for i, o in enumerate(outputs) if not isinstance(o, str)]
    if bad:
        raise TypeError(f"outputs must be strings; item positions {bad[:5]} are not")


def _benchmark(items: Sequence[BenchItem]) -> str:
    names = {it.benchmark for it in items}
    if len(names) > 1:
        raise ValueError(f"score one benchmark at a time, got {sorted(names)}")
    return names.pop() if names else ""


def _acc(flags: list[bool]) -> dict:
    n = len(flags)
    c = sum(flags)
    return {"accuracy": c / n if n else None, "correct": c, "n": n}


def _accuracy_metrics(benchmark: str, items: Sequence[BenchItem], correct: list[bool]) -> dict:
    m = _acc(correct)
    m["chance"] = paper.chance_level(benchmark, items)
    return m


# ------------------------------------------------------------------ MuChoMusic

MUCHOMUSIC_PREFIX = "The correct answer is:"
LETTER_RULES = ("standalone", "official")


def option_letters_in(text: str, n_options: int = 4, letter_rule: str = "standalone") -> set[str]:
    """Distinct option letters present in `text` under `letter_rule` (see module docstring)."""
    allowed = letters(max(n_options, 1))
    if letter_rule == "official":
        return set(allowed) & set(text)
    if letter_rule != "standalone":
        raise ValueError(f"letter_rule must be one of {LETTER_RULES}")
    return set(re.findall(rf"(?<![A-Za-z0-9])([{allowed}])(?![A-Za-z0-9])", text))


def extract_muchomusic_choice(output: str, options: Sequence[str], *, prefix: str = MUCHOMUSIC_PREFIX,
                              letter_rule: str = "standalone") -> tuple[int | None, str]:
    """(index of the chosen option or None, how: "letter" | "text" | "none")."""
    text = output.split(prefix)[-1].strip()
    found = option_letters_in(text, len(options), letter_rule)
    if len(found) == 1:
        return letters(len(options)).index(found.pop()), "letter"
    lowered = text.lower().strip()
    for i, opt in enumerate(options):
        o = str(opt).lower().strip()
        if o and o in lowered:
            return i, "text"
    return None, "none"


def _answer_index(item: BenchItem) -> int:
    if "answer_index" in item.meta:
        return int(item.meta["answer_index"])
    return list(item.options or []).index(item.answer)


def score_muchomusic(items: Sequence[BenchItem], outputs: Sequence[str], *, letter_rule: str = "standalone",
                     strip_reasoning: bool = True) -> ScoreResult:
    _check(items, outputs)
    bench = _benchmark(items) or "muchomusic"
    verdicts, flags = [], []
    by_genre: dict[str, list[bool]] = defaultdict(list)
    by_reason: dict[str, list[bool]] = defaultdict(list)
    by_know: dict[str, list[bool]] = defaultdict(list)
    any_reason, any_know = [], []
    for it, out in zip(items, outputs):
        text = final_answer_text(out) if strip_reasoning else out
        idx, how = extract_muchomusic_choice(text, it.options or [], letter_rule=letter_rule)
        ok = idx is not None and idx == _answer_index(it)
        flags.append(ok)
        verdicts.append({"id": it.id, "correct": ok, "chosen_index": idx, "chosen_letter":
                         None if idx is None else letters(len(it.options or []))[idx], "how": how,
                         "answer_index": _answer_index(it), "output": out})
        by_genre[it.meta.get("genre") or "unknown"].append(ok)
        reasons, knows = it.meta.get("music_reasoning") or [], it.meta.get("music_knowledge") or []
        for r in reasons:
            by_reason[r].append(ok)
        for k in knows:
            by_know[k].append(ok)
        if reasons:
            any_reason.append(ok)
        if knows:
            any_know.append(ok)
    metrics = _accuracy_metrics(bench, items, flags)
    metrics["unanswered"] = sum(v["how"] == "none" for v in verdicts)
    metrics["reasoning"] = _acc(any_reason)
    metrics["knowledge"] = _acc(any_know)
    metrics["by_genre"] = {k: _acc(v) for k, v in sorted(by_genre.items())}
    metrics["by_music_reasoning"] = {k: _acc(v) for k, v in sorted(by_reason.items())}
    metrics["by_music_knowledge"] = {k: _acc(v) for k, v in sorted(by_know.items())}
    rule = (f"MuChoMusic official extraction (mulab-mir/muchomusic scoring.py), letter_rule={letter_rule}: "
            "exactly one option letter -> that option; else first option text contained in the output; else wrong")
    return ScoreResult(bench, rule + _strip_note(strip_reasoning), metrics, verdicts)


# ------------------------------------------------------------------ MMAU / MMAR string match


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"\b\w+\b", str(text).lower()))


def mmau_string_match(answer: str, prediction: str, choices: Iterable[str]) -> bool:
    """The MMAU/MMAR official `string_match` (see module docstring)."""
    pred, ans = _tokens(prediction), _tokens(answer)
    if not pred:
        return False
    wrong: set[str] = set()
    for choice in choices:
        ct = _tokens(choice)
        if ct != ans:
            wrong |= ct - ans
    return ans <= pred and pred.isdisjoint(wrong)


STRING_MATCH_BREAKDOWNS = {
    "mmau": ("sub-category", "difficulty", "category"),
    "mmau_pro": ("sub-cat", "length_type"),
    "mmar": ("modality", "category", "sub-category"),
}


def score_string_match(items: Sequence[BenchItem], outputs: Sequence[str], *,
                       breakdown: Sequence[str] | None = None, strip_reasoning: bool = True) -> ScoreResult:
    _check(items, outputs)
    bench = _benchmark(items)
    keys = tuple(breakdown) if breakdown is not None else STRING_MATCH_BREAKDOWNS.get(bench, ())
    verdicts, flags = [], []
    groups: dict[str, dict[str, list[bool]]] = {k: defaultdict(list) for k in keys}
    for it, out in zip(items, outputs):
        text = final_answer_text(out) if strip_reasoning else out
        ok = mmau_string_match(it.answer, text, it.options or [])
        flags.append(ok)
        verdicts.append({"id": it.id, "correct": ok, "output": out, "scored_text": text})
        for k in keys:
            groups[k][str(it.meta.get(k) or "unknown")].append(ok)
    metrics = _accuracy_metrics(bench, items, flags)
    metrics["no_prediction"] = sum(not _tokens(v["scored_text"]) for v in verdicts)
    for k in keys:
        metrics[f"by_{k}"] = {g: _acc(v) for g, v in sorted(groups[k].items())}
    rule = "MMAU official string_match (Sakshi113/MMAU evaluation.py; identical in ddlBoJack/MMAR)"
    if bench == "mmau_pro":
        rule += ("; MMAU-Pro's official closed-form scorer instead picks the choice nearest the output by "
                 "NV-Embed-v2 similarity, which needs that model and is not reproduced here")
    return ScoreResult(bench, rule + _strip_note(strip_reasoning), metrics, verdicts)


# ------------------------------------------------------------------ classification


def _label_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", str(text)).lower().replace("_", " ").replace("-", " ")
    text = re.sub(r"[^\w\s]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def map_to_label(output: str, labels: Sequence[str], synonyms: Mapping[str, Sequence[str]] | None = None
                 ) -> tuple[str | None, str]:
    """(label or None, how: "exact" | "mapped" | "ambiguous" | "none") — see module docstring."""
    synonyms = synonyms or {}
    forms = [(label, _label_text(f)) for label in labels for f in [label, *synonyms.get(label, [])]]
    forms = [(label, f) for label, f in forms if f]
    norm = _label_text(output)
    exact = {label for label, f in forms if norm == f}
    if len(exact) == 1:
        return exact.pop(), "exact"
    spans = []
    for label, f in forms:
        for m in re.finditer(rf"(?<![^\W_]){re.escape(f)}(?:e?s)?(?![^\W_])", norm):
            spans.append((m.start(), m.end(), label))
    kept = [s for s in spans
            if not any(o[2] != s[2] and o[0] <= s[0] and s[1] <= o[1] and (o[1] - o[0]) > (s[1] - s[0])
                       for o in spans)]
    found = {s[2] for s in kept}
    if len(found) == 1:
        return found.pop(), "mapped"
    return None, "ambiguous" if found else "none"


def score_classification(items: Sequence[BenchItem], outputs: Sequence[str], *,
                         strip_reasoning: bool = True) -> ScoreResult:
    _check(items, outputs)
    bench = _benchmark(items)
    verdicts, flags = [], []
    per_label: dict[str, list[bool]] = defaultdict(list)
    for it, out in zip(items, outputs):
        text = final_answer_text(out) if strip_reasoning else out
        label, how = map_to_label(text, it.options or [], it.meta.get("label_synonyms"))
        ok = label == it.answer
        flags.append(ok)
        per_label[it.answer].append(ok)
        verdicts.append({"id": it.id, "correct": ok, "predicted_label": label, "how": how,
                         "label": it.answer, "output": out})
    metrics = _accuracy_metrics(bench, items, flags)
    metrics["unmapped"] = sum(v["predicted_label"] is None for v in verdicts)
    metrics["by_label"] = {k: _acc(v) for k, v in sorted(per_label.items())}
    rule = ("closed-set accuracy: exact label (or synonym) answer, else the single label mentioned as a whole "
            "word/phrase via the adapter's synonym table; none or several labels -> wrong")
    return ScoreResult(bench, rule + _strip_note(strip_reasoning), metrics, verdicts)


# ------------------------------------------------------------------ lyrics: WER / CER

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORDINAL_LAST = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                 "nine": "ninth", "twelve": "twelfth"}


def number_to_words(n: int) -> str:
    """American English words for 0..9999 without "and" (105 -> "one hundred five"); larger -> digit by digit."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n >= 10000:
        return " ".join(_ONES[int(d)] for d in str(n))
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        return _ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + number_to_words(n % 100))
    return _ONES[n // 1000] + " thousand" + ("" if n % 1000 == 0 else " " + number_to_words(n % 1000))


def _digits_to_words(digits: str) -> str:
    # A leading zero ("007", "0800") is read digit by digit, as people say it.
    if len(digits) > 1 and digits.startswith("0"):
        return " ".join(_ONES[int(d)] for d in digits)
    return number_to_words(int(digits))


def _ordinal(n: int) -> str:
    *head, last = number_to_words(n).split()
    if last in _ORDINAL_LAST:
        last = _ORDINAL_LAST[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join([*head, last])


ENGLISH_NORMALISATION = (
    "English WER normalisation: Unicode NFKC; lowercase; thousands separators dropped (1,000 -> 1000); "
    "decimals read as '<int> point <digit> <digit>'; ordinals 1st/2nd/3rd/Nth -> words (first, second, ...); "
    "other digit runs -> American English words for 0..9999 without 'and' (105 -> one hundred five), "
    "digit by digit for 10000+ or a leading zero; apostrophes removed (don't -> dont); every other "
    "non-alphanumeric character -> space; whitespace collapsed. Word-level corpus WER = (S+D+I)/N with jiwer."
)
CHINESE_NORMALISATION = (
    "Chinese CER normalisation: Unicode NFKC (full-width -> half-width); lowercase (Latin letters); every "
    "punctuation (Unicode P*) and symbol (S*) character and all whitespace removed; no digit/number conversion "
    "and no traditional/simplified mapping. Character-level corpus CER = (S+D+I)/N with jiwer."
)


def normalise_english(text: str) -> str:
    s = unicodedata.normalize("NFKC", text or "").lower()
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)
    s = re.sub(r"(\d+)\.(\d+)",
               lambda m: f" {_digits_to_words(m.group(1))} point {' '.join(_ONES[int(d)] for d in m.group(2))} ", s)
    s = re.sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: f" {_ordinal(int(m.group(1)))} ", s)
    s = re.sub(r"\d+", lambda m: f" {_digits_to_words(m.group(0))} ", s)
    s = re.sub(r"['\u2019\u2018\u02bc`]", "", s)
    s = re.sub(r"[^\w\s]|_", " ", s)
    return re.sub(r"\s+", " ", s).strip()


def normalise_chinese(text: str) -> str:
    s = unicodedata.normalize("NFKC", text or "").lower()
    return "".join(ch for ch in s if not ch.isspace() and unicodedata.category(ch)[0] not in "PSZ")


def _edit_rates(refs: list[str], hyps: list[str], unit: str):
    import jiwer

    if unit == "char":
        out = jiwer.process_characters(refs, hyps)
    else:
        out = jiwer.process_words(refs, hyps)
    n = out.hits + out.substitutions + out.deletions
    return out, n


def score_asr(items: Sequence[BenchItem], outputs: Sequence[str], *, strip_reasoning: bool = True) -> ScoreResult:
    """Corpus WER (English) or CER (Chinese) over items, plus per-item rates."""
    _check(items, outputs)
    bench = _benchmark(items)
    langs = {it.language for it in items}
    if len(langs) > 1:
        raise ValueError(f"{bench}: mixed languages {sorted(langs)}; score each language separately")
    lang = langs.pop() if langs else "en"
    if lang == "zh":
        norm, unit, metric, desc = normalise_chinese, "char", "cer", CHINESE_NORMALISATION
    elif lang == "en":
        norm, unit, metric, desc = normalise_english, "word", "wer", ENGLISH_NORMALISATION
    else:
        raise ValueError(f"{bench}: no lyric normalisation defined for language {lang!r}")
    verdicts, refs, hyps = [], [], []
    for it, out in zip(items, outputs):
        text = final_answer_text(out) if strip_reasoning else out
        ref, hyp = norm(it.answer), norm(text)
        v = {"id": it.id, "reference": ref, "hypothesis": hyp, "output": out}
        if not ref:
            v["skipped"] = "empty reference after normalisation"
            verdicts.append(v)
            continue
        one, n = _edit_rates([ref], [hyp], unit)
        v.update({metric: (one.substitutions + one.deletions + one.insertions) / n, "errors":
                  one.substitutions + one.deletions + one.insertions, "reference_units": n})
        verdicts.append(v)
        refs.append(ref)
        hyps.append(hyp)
    metrics: dict = {metric: None, "n": len(refs), "skipped": len(items) - len(refs), "unit": unit}
    if refs:
        agg, n = _edit_rates(refs, hyps, unit)
        metrics.update({metric: (agg.substitutions + agg.deletions + agg.insertions) / n,
                        "substitutions": agg.substitutions, "deletions": agg.deletions,
                        "insertions": agg.insertions, "reference_units": n})
    rule = f"corpus {metric.upper()} with jiwer after normalisation"
    return ScoreResult(bench, rule + _strip_note(strip_reasoning), metrics, verdicts, normalisation=desc)


# ------------------------------------------------------------------ dispatch


def _strip_note(strip: bool) -> str:
    return "; scored on the <answer> block / text outside <think>" if strip else "; scored on the raw output"


SCORERS: dict[str, Callable[..., ScoreResult]] = {
    "muchomusic": score_muchomusic,
    "mmau": score_string_match,
    "mmau_pro": score_string_match,
    "mmar": score_string_match,
}
_BY_KIND: dict[str, Callable[..., ScoreResult]] = {
    "mcq": score_string_match,
    "classification": score_classification,
    "asr": score_asr,
}


def score(items: Sequence[BenchItem], outputs: Sequence[str], **kwargs) -> ScoreResult:
    """Score with the benchmark's official rule (by name, else by item kind)."""
    bench = _benchmark(items)
    fn = SCORERS.get(bench)
    if fn is None:
        kinds = {it.kind for it in items}
        if len(kinds) > 1:
            raise ValueError(f"{bench}: mixed item kinds {sorted(kinds)}")
        kind = kinds.pop() if kinds else "mcq"
        if kind not in _BY_KIND:
            raise ValueError(f"{bench}: no scorer for kind {kind!r}")
        fn = _BY_KIND[kind]
    return fn(items, outputs, **kwargs)


def evaluate(items: Sequence[BenchItem], predict: Callable[[list[BenchItem]], list[str]], **kwargs) -> ScoreResult:
    """Call `predict(items)` once and score its outputs with `score`."""
    items = list(items)
    outputs = list(predict(items))
    return score(items, outputs, **kwargs)


__all__ = [
    "CHINESE_NORMALISATION", "ENGLISH_NORMALISATION", "LETTER_RULES", "MUCHOMUSIC_PREFIX", "SCORERS",
    "ScoreResult", "evaluate", "extract_muchomusic_choice", "final_answer_text", "map_to_label",
    "mmau_string_match", "normalise_chinese", "normalise_english", "number_to_words", "option_letters_in",
    "score", "score_asr", "score_classification", "score_muchomusic", "score_string_match",
]
