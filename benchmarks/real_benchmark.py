"""Real-recording benchmark: vocals, lyrics and instruments on public recordings with honest labels.

Corpus: `/work/real_audio` (or `--corpus`), catalogued in `sources.csv` (source,
licence and label provenance per recording): `vocals` sung / instrumental /
speech / unknown from the source's own metadata, `instrument_family` (General
MIDI family) for instrument-sample collections, `language` and published
lyrics where the source has them.

1. Annotates every recording with the MIR engine as configured (`conf/mir`;
   cached by content + config, one worker by default) and prints:
   - vocal detection on sung vs instrumental recordings: precision and recall
     of "yes", precision of "no", share left "unknown" (targets: precision
     >= 0.90); speech recordings separately (not part of either class);
   - lyric words asserted on instrumental recordings (target 0), and on sung
     recordings in languages other than English (tiny.en must say unknown);
     WER on sung English recordings with published lyrics, where there are any;
   - instruments on solo-instrument recordings (instrumental, one labelled
     family): share whose top asserted instrument has the labelled family
     (target >= 70 %), and precision of all asserted instruments (>= 0.90).
   - harmony and tempo on the recordings whose source publishes them: tempo
     Acc1/Acc2, MIREX weighted key score, chord majmin (mir_eval) for every
     tool and fused, side by side, and the fusion variants re-run on the stored
     tool outputs (`mir.evaluate.fusion_study`): with and without basic-pitch's
     note evidence. Facts annotated before basic-pitch joined get its evidence
     here (`mir.notes.evidence` on the same audio and madmom's beats).
   - `--accuracy-json PATH` writes the accuracy per fact kind that the dataset
     card prints beside its asserted/hedged/omitted shares.
   - `--family-study`: can tagger probabilities plus basic-pitch's register
     name a solo recording's family? (logistic regression, repeated 5-fold CV).
   - `--only labelled`: only the solo-instrument recordings and those with a
     published tempo, key or chords; Hydra overrides after the options apply to
     the annotation only (to reuse a cache made before a config change).
2. `--calibrate`: fits the vocal detector's Platt scaling (2 parameters) and
   picks the tagger's instrument threshold on the same recordings, and
   estimates what they give on unseen recordings by repeated stratified
   2-fold cross-validation (fit on one half, score the other; 20 repeats):
   the printed cross-validated figures are the honest ones; the parameters
   fit on all recordings are printed to be copied into `conf/mir/default.yaml`.
   The vocal cut-offs (P >= 0.9 yes, <= 0.1 no) are fixed, not tuned.

3. `--released ROOT`: instead of annotating, reads a project built on this corpus
   (`data.demo.enabled=false data.input_dir=<corpus>/files`, stages raw_audio,
   mir_metadata, mf_skills) and checks every released MF-Skills reply and
   segment caption against the benchmark's labels, not the MIR facts, with the
   pipeline's own claim checker: a vocal, lyric or instrument claim that the
   labels contradict is a fact the pipeline invented (target 0). Labels used:
   `vocals` sung / instrumental; published lyrics (instrumental: none); the
   instrument of solo-instrument recordings. Everything else is unverifiable here.

Run: `nice .venv/bin/python benchmarks/real_benchmark.py [--calibrate] [-j 1]`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_corpus import load_sources, published_lyrics  # noqa: E402  (the corpus catalogue's own loader)

from musicflamingo.mir.evaluate import instrument_figures  # noqa: E402
TARGETS = {"vocal_precision": 0.90, "instrumental_lyric_words": 0, "instrument_named": 0.70, "instrument_precision": 0.90}
SUNG, INSTRUMENTAL = "sung", "instrumental"


def load_corpus(corpus: Path) -> list[dict]:
    """The catalogue rows (`real_corpus.load_sources`) whose audio is present under `corpus`."""
    return [r for r in load_sources(corpus / "sources.csv") if (corpus / r["file"]).is_file()]


def annotate_corpus(rows: list[dict], corpus: Path, mir: dict, jobs: int, cache: Path) -> tuple[dict, list[dict]]:
    from musicflamingo.mir.annotate import annotate
    from musicflamingo.mir.batch import items_for, mir_config_hash

    items, pre_q = items_for([corpus / r["file"] for r in rows], mir, root=corpus)  # probes each duration
    facts, quarantine = annotate(items, mir, mir_config_hash(mir), cache, jobs=jobs, desc="real corpus")
    by_path = {f["path"]: f for f in facts}
    return {r["id"]: by_path[r["file"]] for r in rows if r["file"] in by_path}, pre_q + quarantine


def words_of(text: str) -> list[str]:
    import re

    return re.findall(r"[a-z0-9']+", text.lower().replace("’", "'"))


def ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def vocal_figures(states: dict[str, str], labels: dict[str, str]) -> dict:
    """Precision/recall of "yes" on sung vs instrumental, precision of "no", share unknown."""
    ids = [i for i in states if labels[i] in (SUNG, INSTRUMENTAL)]
    yes = [i for i in ids if states[i] == "yes"]
    no = [i for i in ids if states[i] == "no"]
    sung = [i for i in ids if labels[i] == SUNG]
    return {
        "recordings": len(ids), "sung": len(sung),
        "precision": ratio(sum(labels[i] == SUNG for i in yes), len(yes)),
        "recall": ratio(sum(states[i] == "yes" for i in sung), len(sung)),
        "no_precision": ratio(sum(labels[i] == INSTRUMENTAL for i in no), len(no)),
        "unknown_share": ratio(sum(states[i] == "unknown" for i in ids), len(ids)),
        "false_yes": sorted(i for i in yes if labels[i] != SUNG),
        "false_no": sorted(i for i in no if labels[i] == SUNG),
    }


def fit_platt(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt scaling (logistic regression on one feature; near-unregularised, C=1000)."""
    from sklearn.linear_model import LogisticRegression

    m = LogisticRegression(C=1000.0).fit(scores.reshape(-1, 1), y)
    return float(m.coef_[0][0]), float(m.intercept_[0])


def pick_instrument_threshold(probs: dict[str, dict[str, float]], families: dict[str, str], ids: list[str], target: float) -> float:
    """Lowest threshold on the grid whose asserted-instrument precision on `ids` reaches `target`."""
    from musicflamingo.mir.tagger import INSTRUMENT_FAMILY

    for t in np.round(np.arange(0.2, 0.96, 0.025), 3):
        pairs = [(i, INSTRUMENT_FAMILY[tag]) for i in ids for tag, p in probs[i].items() if tag in INSTRUMENT_FAMILY and p >= t]
        if pairs and sum(f == families[i] for i, f in pairs) / len(pairs) >= target:
            return float(t)
    return 1.0


def asserted_families(tag_probs: dict[str, float], threshold: float) -> list[str]:
    from musicflamingo.mir.tagger import INSTRUMENT_FAMILY

    ranked = sorted(((p, t) for t, p in tag_probs.items() if t in INSTRUMENT_FAMILY and p >= threshold), reverse=True)
    return list(dict.fromkeys(INSTRUMENT_FAMILY[t] for _, t in ranked))


def calibrate(facts: dict, rows: dict, vcfg: dict, repeats: int = 20) -> None:
    from sklearn.model_selection import KFold, StratifiedKFold

    from musicflamingo.mir import vocals

    # Vocals: one score per sung / instrumental recording from the stored tagger evidence.
    ids = sorted(i for i in facts if rows[i]["vocals"] in (SUNG, INSTRUMENTAL))
    scores = np.array([vocals.score(np.array(facts[i]["per_tool"]["musicnn"]["vocal_evidence"])) for i in ids])
    y = np.array([rows[i]["vocals"] == SUNG for i in ids], dtype=int)
    labels = {i: rows[i]["vocals"] for i in ids}
    cv: list[dict] = []
    for rep in range(repeats):
        held: dict[str, str] = {}
        for train, test in StratifiedKFold(2, shuffle=True, random_state=rep).split(scores, y):
            a, b = fit_platt(scores[train], y[train])
            for k in test:
                held[ids[k]] = vocals.decide(vocals.probability(scores[k], {"platt_a": a, "platt_b": b}), vcfg)[0]
        cv.append(vocal_figures(held, labels))
    a, b = fit_platt(scores, y)
    print(f"\nCALIBRATION (vocals): {len(ids)} recordings ({int(y.sum())} sung), {repeats} x stratified 2-fold, cut-offs fixed at P>={vcfg['yes_probability']} / <={vcfg['no_probability']}")
    for m in ("precision", "recall", "no_precision", "unknown_share"):
        vals = [c[m] for c in cv if c[m] is not None]
        print(f"  held-out {m:14s} mean {np.mean(vals):.3f}  min {np.min(vals):.3f}  max {np.max(vals):.3f}")
    print(f"  fit on all: platt_a: {a:.3f}  platt_b: {b:.3f}  (P=0.9 at score {(np.log(9) - b) / a:.3f}, P=0.1 at {(-np.log(9) - b) / a:.3f})")

    # Instruments: the threshold that keeps asserted-instrument precision >= 0.90, chosen on one half.
    fam = {i: rows[i]["instrument_family"] for i in facts if rows[i]["instrument_family"] and rows[i]["vocals"] == INSTRUMENTAL}
    fids = sorted(fam)
    probs = {i: facts[i]["per_tool"]["musicnn"]["tags"] for i in fids}
    cvi = []
    for rep in range(repeats):  # plain shuffled halves: several families have one recording
        asserted: dict[str, list[str]] = {}
        for train, test in KFold(2, shuffle=True, random_state=rep).split(fids):
            t = pick_instrument_threshold(probs, fam, [fids[k] for k in train], TARGETS["instrument_precision"])
            for k in test:
                asserted[fids[k]] = asserted_families(probs[fids[k]], t)
        cvi.append(instrument_figures(asserted, fam))
    t_all = pick_instrument_threshold(probs, fam, fids, TARGETS["instrument_precision"])
    print(f"\nCALIBRATION (instruments): {len(fids)} solo recordings, threshold chosen on one half for precision >= 0.90, scored on the other")
    for m in ("named_correctly", "precision"):
        vals = [c[m] for c in cvi if c[m] is not None]
        print(f"  held-out {m:15s} mean {np.mean(vals):.3f}  min {np.min(vals):.3f}  max {np.max(vals):.3f}" if vals else f"  held-out {m}: nothing asserted")
    print(f"  fit on all: instrument_threshold: {t_all}")


def report(facts: dict, rows: dict, quarantine: list[dict]) -> dict:
    import jiwer

    labels = {i: rows[i]["vocals"] for i in facts}
    states = {i: facts[i].get("vocals_state") or "unknown" for i in facts}
    vf = vocal_figures(states, labels)
    speech = Counter(states[i] for i in facts if labels[i] == "speech")
    words_on = lambda pred: sum(len(facts[i].get("words") or []) for i in facts if pred(i))  # noqa: E731
    instr_words = words_on(lambda i: labels[i] == INSTRUMENTAL)
    non_en = words_on(lambda i: labels[i] == SUNG and rows[i]["language"] and rows[i]["language"] != "English")
    en = [i for i in facts if labels[i] == SUNG and rows[i]["language"] == "English" and rows[i]["lyrics_published"]]
    refs = {i: words_of(published_lyrics(rows[i], ARGS.corpus) or "") for i in en}
    known = [i for i in en if facts[i].get("lyrics_state") == "known" and facts[i].get("words")]
    wer = round(jiwer.wer([" ".join(refs[i]) for i in known], [" ".join(words_of(facts[i]["lyrics"])) for i in known]), 3) if known else None
    asserted = [(i, w) for i in known for w in words_of(facts[i]["lyrics"])]
    word_precision = ratio(sum(w in set(refs[i]) for i, w in asserted), len(asserted))
    fam = {i: rows[i]["instrument_family"] for i in facts if rows[i]["instrument_family"] and rows[i]["vocals"] == INSTRUMENTAL}
    inst = instrument_figures({i: list(dict.fromkeys(f for _, f, _ in facts[i].get("instruments") or [])) for i in fam}, fam)
    all_asserted = Counter(t for f in facts.values() for t, _, _ in f.get("instruments") or [])

    print(f"\nREAL-RECORDING BENCHMARK: {len(facts)} recordings annotated, {len(quarantine)} quarantined")
    print(f"vocals (sung vs instrumental, {vf['recordings']} recordings, {vf['sung']} sung):")
    print(f"  precision of 'yes'  {vf['precision']}   (target >= {TARGETS['vocal_precision']})")
    print(f"  recall of 'yes'     {vf['recall']}")
    print(f"  precision of 'no'   {vf['no_precision']}")
    print(f"  left unknown        {vf['unknown_share']}")
    print(f"  false yes: {vf['false_yes']}\n  false no:  {vf['false_no']}")
    print(f"  speech recordings (neither class): {dict(speech)}")
    print("lyrics:")
    print(f"  words asserted on instrumental recordings: {instr_words}   (target {TARGETS['instrumental_lyric_words']})")
    print(f"  words asserted on sung non-English recordings (tiny.en is English-only): {non_en}")
    print(f"  lyrics state on sung recordings: {dict(Counter(facts[i].get('lyrics_state') for i in facts if labels[i] == SUNG))}")
    print(f"  sung English recordings with published lyrics: {len(en)}; lyrics asserted on {len(known)}, unknown on the rest")
    print(f"  WER where asserted (whole-song published lyrics as reference): {wer}")
    print(f"  asserted words found in the published lyrics: {word_precision} of {len(asserted)}")
    print(f"instruments (solo-instrument recordings, {inst['solo_recordings']}):")
    print(f"  family named correctly (top asserted)  {inst['named_correctly']}   (target >= {TARGETS['instrument_named']})")
    print(f"  precision of asserted instruments      {inst['precision']} of {inst['asserted']}   (target >= {TARGETS['instrument_precision']})")
    print(f"  wrong: {inst['wrong']}")
    print(f"  tags asserted over the whole corpus: {dict(all_asserted)}")
    return {"vocals": vf, "speech_states": dict(speech), "instrumental_lyric_words": instr_words, "non_english_sung_words": non_en,
            "wer_english": wer, "english_lyrics_asserted": len(known), "english_recordings": len(en), "asserted_word_precision": word_precision,
            "instruments": inst}


def _jams_chords(path: Path) -> list[list]:
    """[start_s, end_s, Harte] from the first `chord` annotation of a JAMS file (GuitarSet: the lead sheet)."""
    for ann in json.loads(path.read_text())["annotations"]:
        if ann["namespace"] == "chord":
            d = ann["data"]
            obs = [(o["time"], o["duration"], o["value"]) for o in d] if isinstance(d, list) else list(zip(d["time"], d["duration"], d["value"]))
            return [[float(t), float(t) + float(du), str(v)] for t, du, v in obs]
    return []


def harmony_truth(rows: dict, corpus: Path) -> dict[str, dict]:
    """id -> {"tempo_bpm", "key", "chords"} for the recordings whose source publishes any of them."""
    out = {}
    for i, r in rows.items():
        t = {"tempo_bpm": r["tempo_bpm"], "key": r["key"] or None,
             "chords": _jams_chords(corpus / r["chords_file"]) if r["chords_file"] else None}
        if any(t.values()):
            out[i] = t
    return out


def with_notes(facts: dict, corpus: Path, mir: dict) -> dict:
    """The facts row with basic-pitch's evidence in `per_tool` (computed here when the row predates it)."""
    per = facts.get("per_tool", {})
    if "basic_pitch_key" in per:
        return facts
    from musicflamingo.audio import loader
    from musicflamingo.mir import notes, tools

    decoded = loader.decode(corpus / facts["path"], loader.Limits.from_config(mir["validate"]))
    mono = tools.resample(decoded.samples, decoded.sample_rate, notes.SAMPLE_RATE)
    ev = notes.evidence(mono, notes.SAMPLE_RATE, per["madmom"]["beats"], facts["duration_s"], mir.get("notes") or {})
    return facts | {"per_tool": per | {"basic_pitch_key": {k: ev[k] for k in ("key", "pitch_class_profile", "notes", "pitch")}, "basic_pitch": {"chords": ev["chords"]}}}


def harmony_report(facts: dict, rows: dict, corpus: Path, mir: dict) -> dict:
    """Tempo, key and chords per tool and fused on the labelled real recordings, plus the fusion study."""
    from musicflamingo.mir import evaluate as ev

    truth = harmony_truth({i: rows[i] for i in facts}, corpus)
    preds = {i: with_notes(facts[i], corpus, mir) for i in truth}
    acc: dict[str, dict[str, list]] = {}
    add = lambda system, metric, v: acc.setdefault(system, {}).setdefault(metric, []).append(v)  # noqa: E731
    for i, t in truth.items():
        p, per = preds[i], preds[i].get("per_tool", {})
        if t["tempo_bpm"]:
            for name, est in [("fused", p["tempo_bpm"]), *[(k, per[k].get("tempo_bpm")) for k in ev.TEMPO_TOOLS if k in per]]:
                a1, a2 = ev.tempo_accuracy(t["tempo_bpm"], est)
                add(name, "tempo_acc1", a1)
                add(name, "tempo_acc2", a2)
        if t["key"]:
            for name, est in [("fused", p["key"]), *[(k, per[k].get("key")) for k in ev.KEY_TOOLS if k in per]]:
                add(name, "key_weighted", ev.key_score(t["key"], est))
        if t["chords"]:
            for name, est in [("fused", p["chords"]), *[(k, per[k]["chords"]) for k in ev.CHORD_TOOLS if k in per]]:
                add(name, "chord_majmin", ev.chord_scores(t["chords"], est)["majmin"])
    table = {}
    for system, metrics in acc.items():
        table[system] = {m: (round(float(sum(c for c, _ in v) / sum(d for _, d in v)), 4) if sum(d for _, d in v) else None) if m == "chord_majmin"
                         else round(float(np.mean(v)), 4) for m, v in metrics.items()}
    n = {m: sum(1 for t in truth.values() if t[k]) for m, k in (("tempo", "tempo_bpm"), ("key", "key"), ("chords", "chords"))}
    print(f"\nharmony and tempo (labelled real recordings: tempo {n['tempo']}, key {n['key']}, chords {n['chords']}):")
    cols = ("tempo_acc1", "tempo_acc2", "key_weighted", "chord_majmin")
    print("  " + "system".ljust(22) + "".join(c.rjust(14) for c in cols))
    for system in sorted(table, key=lambda s: (s != "fused", s)):
        print("  " + system.ljust(22) + "".join((f"{table[system][c]:.3f}" if table[system].get(c) is not None else "-").rjust(14) for c in cols))
    for metric in cols:
        singles = [(v[metric], s) for s, v in table.items() if s != "fused" and v.get(metric) is not None]
        if singles and table.get("fused", {}).get(metric) is not None:
            best = max(singles)
            print(f"  fused vs best single tool on {metric}: {table['fused'][metric]} vs {best[0]} ({best[1]})")
    study = fusion_variants_report(truth, list(preds.values()), mir, "real")
    return {"systems": table, "labelled": n, "fusion_study": study}


def fusion_variants_report(truth: dict, preds: list[dict], mir: dict, name: str) -> dict:
    from musicflamingo.mir import evaluate as ev

    study = ev.fusion_study(truth, preds, mir, ev.fusion_variants(mir))
    print(f"  fusion re-run on stored tool outputs ({name}):")
    for v, r in study.items():
        print(f"    {v:28s} tempo Acc1 {r['tempo_acc1']}  Acc2 {r['tempo_acc2']} (n={r['tempo_n']})  key weighted {r['key_weighted']} (n={r['key_n']})  chord majmin {r['chord_majmin']} (n={r['chord_n']})")
    return study


PITCH_FEATURES = ("p10", "median", "p90", "polyphony", "notes_per_s")


def family_features(facts: dict) -> np.ndarray:
    """One recording's evidence for its instrument family: the musicnn tag probabilities (MTT's 50, in the
    tagger's order) and basic-pitch's register and texture (`mir.notes.pitch_stats`; 0 where no note)."""
    from musicflamingo.mir.tagger import labels

    tags = facts["per_tool"]["musicnn"]["tags"]
    pitch = facts["per_tool"].get("basic_pitch_key", {}).get("pitch") or {}
    return np.array([float(tags.get(t, 0.0)) for t in labels()] + [float(pitch.get(k) or 0.0) for k in PITCH_FEATURES])


def family_study(facts: dict, rows: dict, corpus: Path, mir: dict, repeats: int = 10) -> dict:
    """Can the tagger's probabilities plus basic-pitch's register name the family of a solo recording? A
    multinomial logistic regression, scored by repeated 5-fold cross-validation on the solo recordings (the
    honest figure); the shipped rule (musicnn instrument tags above threshold) beside it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    fam = {i: rows[i]["instrument_family"] for i in facts if rows[i]["instrument_family"] and rows[i]["vocals"] == INSTRUMENTAL}
    ids = sorted(fam)
    X = np.array([family_features(with_notes(facts[i], corpus, mir)) for i in ids])
    y = np.array([fam[i] for i in ids])
    out = {}
    for name, cols in (("tags", slice(0, X.shape[1] - len(PITCH_FEATURES))), ("tags + pitch", slice(0, X.shape[1])),
                       ("pitch", slice(X.shape[1] - len(PITCH_FEATURES), X.shape[1]))):
        accs = []
        for rep in range(repeats):
            right = 0
            for train, test in KFold(5, shuffle=True, random_state=rep).split(X):
                m = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)).fit(X[train][:, cols], y[train])
                right += int((m.predict(X[test][:, cols]) == y[test]).sum())
            accs.append(right / len(ids))
        out[name] = {"mean": round(float(np.mean(accs)), 3), "min": round(float(np.min(accs)), 3), "max": round(float(np.max(accs)), 3)}
    from collections import Counter

    print(f"\nfamily classifier study ({len(ids)} solo recordings, {len(set(y))} families {dict(Counter(y))}; {repeats} x 5-fold CV):")
    for name, r in out.items():
        print(f"  logistic regression on {name:13s} held-out accuracy mean {r['mean']}  min {r['min']}  max {r['max']}")
    print(f"  majority class alone: {max(Counter(y).values()) / len(y):.3f}")
    return out


def accuracy_per_kind(figures: dict, command: str) -> dict:
    """The dataset card's accuracy per fact kind ({kind: {"measure", "value", "n"}}) from this run's figures."""
    h = figures.get("harmony", {})
    fused, n = h.get("systems", {}).get("fused", {}), h.get("labelled", {})
    v, inst = figures["vocals"], figures["instruments"]
    entry = lambda measure, value, count: {"measure": measure, "value": value, "n": count}  # noqa: E731
    return {
        "_source": command,
        "tempo": entry("fused tempo Acc1", fused.get("tempo_acc1"), n.get("tempo", 0)),
        "key": entry("fused key MIREX weighted", fused.get("key_weighted"), n.get("key", 0)),
        "chords": entry("fused chord majmin (WCSR)", fused.get("chord_majmin"), n.get("chords", 0)),
        "meter": entry("no meter labels in the real set", None, 0),
        "vocals": entry(f"precision of 'yes' ({v['sung']} sung of these)", v["precision"], v["recordings"]) if v["precision"] is not None
        else entry("precision of 'no'", v["no_precision"], v["recordings"]),
        "lyrics": entry("asserted words found in the published lyrics", figures["asserted_word_precision"], figures["english_lyrics_asserted"]),
        "instruments": entry("precision of asserted instrument families (solo recordings)", inst["precision"], inst["solo_recordings"]),
        "genres": entry("no genre labels scored", None, 0),
        "moods": entry("no mood labels", None, 0),
    }


def label_facts(row: dict, corpus: Path) -> tuple[dict, dict]:
    """(facts, tags) for the claim checker from a recording's published labels only: vocals from
    `vocals` (sung True, instrumental False, else unknown); lyrics from the published text (an
    instrumental recording has none: any quoted lyric word is contradicted); instruments only for
    solo-instrument recordings (the label is then the whole instrumentation)."""
    vocals = {SUNG: True, INSTRUMENTAL: False}.get(row["vocals"])
    lyrics = "" if vocals is False else published_lyrics(row, corpus)
    if lyrics:  # published texts use typographic apostrophes (everybody’s); Whisper writes everybody's
        lyrics = lyrics.replace("\u2019", "'")
    facts = {"vocals": vocals, "lyrics": lyrics, "duration_s": row.get("duration_s") or 0.0}
    tags = {"instruments": [row["instrument"]]} if row.get("solo_instrument") == "1" and row.get("instrument") else {}
    return facts, tags


def released_report(root: Path, rows: dict, corpus: Path) -> dict:
    """Vocal, lyric and instrument claims of a built project's released MF-Skills text (every reply of
    train.jsonl and heldout.jsonl, every segment caption) checked against `label_facts`; prints the
    counts per kind and verdict and every contradicted sentence."""
    from musicflamingo.data import factcheck as fc
    from musicflamingo.io import read_jsonl

    skills = root / "data/mf_skills"
    texts = [(r["track_id"], t["value"]) for name in ("train.jsonl", "heldout.jsonl") for r in read_jsonl(skills / name)
             for t in r["conversations"] if t["from"] == "gpt"]
    texts += [(r["track_id"], r["caption"]) for r in read_jsonl(skills / "segments.jsonl")]
    by_sha = {r["sha256"]: r for r in rows.values()}
    index: dict[str, fc.FactIndex] = {}  # one per track, built from its labels
    counts: Counter = Counter()
    bad: list[str] = []
    outside = 0
    for tid, text in texts:
        row = by_sha.get(tid)
        if row is None:
            outside += 1
            continue
        fx = index.get(tid) or index.setdefault(tid, fc.FactIndex.build(*label_facts(row, corpus)))
        for s in fc.sentences(text):  # per sentence, to print the one that is contradicted
            for v in fc.check_text(s, fx, strict=False):
                if v.kind in RELEASED_KINDS:
                    counts[v.kind, v.verdict] += 1
                    if v.verdict == "contradicted":
                        bad.append(f"{row['id']} [{v.kind}: {v.claim}; label {row['vocals']}, {row.get('instrument') or '-'}]: {s}")
    tracks = {tid for tid, _ in texts}
    print(f"\nreleased MF-Skills of {root} against the labels ({len(texts)} texts, {len(tracks)} tracks, {outside} texts of tracks outside the catalogue):")
    for kind in RELEASED_KINDS:
        n = {v: counts[kind, v] for v in ("supported", "contradicted", "unverifiable")}
        print(f"  {kind:10s} claims: {sum(n.values()):5d}  supported by the labels {n['supported']:5d}  "
              f"contradicted {n['contradicted']:3d}  unverifiable (no label) {n['unverifiable']:5d}")
    print(f"  contradicted vocal/lyric/instrument claims: {len(bad)}   (target 0)")
    for b in bad:
        print("   ", b)
    return {"texts": len(texts), "tracks": len(tracks), "outside_catalogue": outside, "contradicted": bad,
            "counts": {f"{kind} {verdict}": n for (kind, verdict), n in counts.items()}}


RELEASED_KINDS = ("vocals", "lyric", "instrument")  # the claim kinds the labels can judge

def main() -> None:
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="/work/real_audio")
    ap.add_argument("-j", "--jobs", type=int, default=1)
    ap.add_argument("--cache", default=str(ROOT / ".cache/real_benchmark"))
    ap.add_argument("--calibrate", action="store_true", help="fit the vocal Platt scaling and the instrument threshold (cross-validated)")
    ap.add_argument("--json", default=None, help="also write the figures here")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides for the annotation only (e.g. to reuse a cache made before a config change); "
                    "fusion variants and note evidence use conf/mir as it is")
    ap.add_argument("--accuracy-json", default=None, help="write the accuracy per fact kind for the dataset card (src/musicflamingo/data/real_accuracy.json)")
    ap.add_argument("--family-study", action="store_true", help="cross-validate a family classifier on tagger + basic-pitch evidence")
    ap.add_argument("--released", default=None, metavar="ROOT",
                    help="check the released MF-Skills of a project built on this corpus against the labels (no annotation)")
    ap.add_argument("--only", choices=["all", "labelled"], default="all",
                    help="labelled: only the solo-instrument recordings and those with a published tempo, key or chords (about 1,100 s of audio)")
    ARGS = ap.parse_args()

    from musicflamingo.config import compose

    mir = OmegaConf.to_container(compose([]).mir, resolve=True)
    annotate_mir = OmegaConf.to_container(compose(ARGS.overrides).mir, resolve=True) if ARGS.overrides else mir
    corpus = Path(ARGS.corpus)
    rows = load_corpus(corpus)
    if ARGS.released:
        figures = released_report(Path(ARGS.released), {r["id"]: r for r in rows}, corpus)
        if ARGS.json:
            Path(ARGS.json).write_text(json.dumps(figures, indent=1))
        return
    if ARGS.only == "labelled":
        rows = [r for r in rows if r["instrument_family"] or r["tempo_bpm"] or r["key"] or r["chords_file"]]
    facts, quarantine = annotate_corpus(rows, corpus, annotate_mir, ARGS.jobs, Path(ARGS.cache))
    by_id = {r["id"]: r for r in rows}
    figures = report(facts, by_id, quarantine)
    figures["harmony"] = harmony_report(facts, by_id, corpus, mir)
    if ARGS.family_study:
        figures["family_study"] = family_study(facts, by_id, corpus, mir)
    if ARGS.calibrate:
        calibrate(facts, by_id, mir["vocals"])
    if ARGS.json:
        Path(ARGS.json).write_text(json.dumps(figures, indent=1))
    if ARGS.accuracy_json:
        from musicflamingo.io import atomic_write_text

        cmd = "benchmarks/real_benchmark.py " + " ".join(sys.argv[1:])
        atomic_write_text(Path(ARGS.accuracy_json), json.dumps(accuracy_per_kind(figures, cmd), indent=1) + "\n")


ARGS: argparse.Namespace

if __name__ == "__main__":
    main()
