"""Dataset cards: `README.md` with statistics and PNG plots, written by the data stages.

Plots: words per caption, items per skill family, factuality histogram, drop
reasons. Matplotlib runs headless (Agg); the card is rewritten whole on each
run (atomic writes).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping

from musicflamingo.data import known
from musicflamingo.io import atomic_path, atomic_write_text

# Accuracy per fact kind measured on the real-recording benchmark (`benchmarks/real_benchmark.py --accuracy-json`).
# Package data, and a code dep of the stages that print it (imports.RESOURCES): a new measurement reruns them.
ACCURACY_JSON = Path(__file__).with_name("real_accuracy.json")


def _plot(path: Path, kind: str, title: str, xlabel: str, ylabel: str, data) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    if kind == "hist":
        ax.hist(data or [0], bins=20, color="#3b6ea5")
    else:
        labels, values = (list(data.keys()), list(data.values())) if data else (["(none)"], [0])
        ax.barh(labels[::-1], values[::-1], color="#3b6ea5")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def _table(counter: dict) -> str:
    return "\n".join(f"| {k} | {v} |" for k, v in counter.items()) or "| (none) | 0 |"


def write_card(out: Path, name: str, rows: list[dict], checks: list[dict], dropped: list[dict], summary: dict,
               extra: str = "", text_task: str = "caption") -> Path:
    """Write `out/README.md` and `out/plots/*.png` for a dataset of conversation records.

    `text_task` is the task whose reply lengths are plotted (captions for MF-Skills, reasoning for MF-Think).
    """
    plots = out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    words = [len(r["conversations"][1]["value"].split()) for r in rows if r.get("task") == text_task]
    per_skill = dict(Counter(f"{r.get('skill') or r.get('task')} ({r.get('task')})" for r in rows).most_common())
    factuality = [c["factuality"] for c in checks if c.get("factuality") is not None]
    reasons = dict(Counter(_reason_class(d["reason"]) for d in dropped).most_common(12))
    _plot(plots / "words_per_caption.png", "hist", f"{name}: words per {text_task} reply", "words", "replies", words)
    _plot(plots / "items_per_skill.png", "bar", f"{name}: items per skill family", "items", "", per_skill)
    _plot(plots / "factuality.png", "hist", f"{name}: factuality per item (before filtering)", "share of checkable claims supported", "items", factuality)
    _plot(plots / "drop_reasons.png", "bar", f"{name}: drop reasons", "items", "", reasons)
    mean_words = sum(words) / len(words) if words else 0
    text = f"""# Dataset card: {name}

Written by the `{name}` stage. Every released caption, answer and reasoning step was checked claim by claim
against the MIR facts (`musicflamingo.data.factcheck`); items that contradict the facts are repaired or dropped.

## Summary

| statistic | value |
|---|---|
{_table(summary)}
| {text_task} replies | {len(words)} |
| mean words per {text_task} reply | {mean_words:.1f} |
| items checked | {len(checks)} |
| items dropped | {len(dropped)} |

## Items per skill family

| skill (task) | items |
|---|---|
{_table(per_skill)}

![items per skill](plots/items_per_skill.png)

## Words per {text_task} reply

![words per caption](plots/words_per_caption.png)

## Factuality

Share of checkable claims that the facts support, per item, before filtering.

![factuality](plots/factuality.png)

## Drop reasons

| reason | items |
|---|---|
{_table(reasons)}

![drop reasons](plots/drop_reasons.png)
{extra}"""
    atomic_write_text(out / "README.md", text)
    return out / "README.md"


def _reason_class(reason: str) -> str:
    """Group free-text reasons ("contradicts MIR facts: tempo '286 BPM' ...") into a short class."""
    head = reason.split(":")[0].strip()
    if head == "contradicts MIR facts":
        kinds = sorted({part.strip().split(" ")[0] for part in reason.split(":", 1)[1].split(";") if part.strip()})
        return "contradicts facts (" + ", ".join(kinds) + ")"
    return (head if len(head) < 60 else head[:57] + "...") if ":" in reason else reason[:60]


def tier_shares(facts_rows: Iterable[Mapping], bands: Mapping) -> dict[str, dict]:
    """Per fact kind: how many known facts (or list items) there are and the share asserted, hedged and omitted
    under `bands` (`data.known.tiers`, before gating)."""
    counts: dict[str, Counter] = {k: Counter() for k in known.KINDS if k in bands}
    for facts in facts_rows:
        for kind, t in known.tiers(facts, bands).items():
            counts[kind].update([t] if isinstance(t, str) else t)
    return {k: {"facts": sum(c.values()), **{t: round(c[t] / sum(c.values()), 3) if c else None for t in known.TIERS}} for k, c in counts.items()}


def load_accuracy(path: Path = ACCURACY_JSON) -> dict:
    """The committed real-benchmark accuracy per fact kind ({} when the file is absent or unreadable)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def confidence_section(facts_rows: Iterable[Mapping], bands: Mapping | None, accuracy: Mapping | None = None) -> str:
    """Markdown: per fact kind, the share of facts asserted / hedged / omitted and, beside it, the accuracy the
    real-recording benchmark measured for that kind (`accuracy[kind]`: {"measure", "value", "n"})."""
    if not bands:
        return "\n## Confidence\n\nNo confidence bands configured: every known fact is asserted.\n"
    accuracy = accuracy or {}
    lines = ["", "## Confidence", "",
             "Each fact is asserted at or above its kind's `assert` confidence, hedged down to `hedge`, omitted below "
             "(conf/skills `confidence:`). Accuracy: measured on the real-recording benchmark "
             f"({accuracy.get('_source', 'benchmarks/real_benchmark.py')}); n = labelled recordings.", "",
             "| fact kind | assert at | hedge at | facts | asserted | hedged | omitted | real-benchmark accuracy |",
             "|---|---|---|---|---|---|---|---|"]
    for kind, sh in tier_shares(facts_rows, bands).items():
        acc = accuracy.get(kind) or {}
        measured = f"{acc['measure']} {acc['value']} (n={acc['n']})" if acc.get("value") is not None else "not measured"
        pct = lambda x: "-" if x is None else f"{100 * x:.0f} %"  # noqa: E731
        lines.append(f"| {kind} | {bands[kind]['assert']} | {bands[kind]['hedge']} | {sh['facts']} | {pct(sh['assert'])} | "
                     f"{pct(sh['hedge'])} | {pct(sh['omit'])} | {measured} |")
    return "\n".join(lines) + "\n"
