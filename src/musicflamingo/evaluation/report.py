"""The evaluation report: the paper's Table 1 shape, for every checkpoint.

Rows are (benchmark, metric); columns are the checkpoints, chance level and
the paper's published Music Flamingo and previous-best numbers. Written as
markdown, JSON (the DVC metrics file, so `dvc metrics diff` compares runs)
and a bar plot.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from musicflamingo.evaluation import paper


@dataclass
class Row:
    benchmark: str
    metric: str
    values: dict[str, float | None]  # checkpoint -> value (fractions for accuracy, WER/CER as fractions)
    n: int
    chance: float | None = None
    higher_is_better: bool = True
    paper_variant: str | None = None
    notes: list[str] = field(default_factory=list)

    def reference(self) -> paper.PaperResult | None:
        try:
            return paper.reference(self.benchmark, self.paper_variant)
        except ValueError:
            return None


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


def _paper_cells(row: Row) -> tuple[str, str]:
    ref = row.reference()
    if ref is None:
        return "–", "–"
    if ref.unit == "percent":
        mf, prev = ref.as_fraction()
        return f"{mf:.3f}", f"{prev:.3f} ({ref.previous_best_model})"
    return f"{ref.music_flamingo} ({ref.unit})", f"{ref.previous_best} ({ref.previous_best_model})"


def markdown(rows: list[Row], checkpoints: list[str], header: str, footnotes: list[str]) -> str:
    cols = ["benchmark", "metric", "n", *checkpoints, "chance", "paper: Music Flamingo", "paper: previous best"]
    lines = [header, "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        arrow = "↑" if r.higher_is_better else "↓"
        cells = [r.benchmark, f"{r.metric} {arrow}", str(r.n), *(_fmt(r.values.get(c)) for c in checkpoints), _fmt(r.chance), *_paper_cells(r)]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.extend(f"- {f}" for f in footnotes)
    lines.append("")
    return "\n".join(lines)


def metrics_json(rows: list[Row]) -> dict:
    """Nested {benchmark: {metric: {checkpoint: value, chance: ..}}}: what `dvc metrics diff` compares."""
    out: dict = {}
    for r in rows:
        entry = {k: v for k, v in r.values.items() if v is not None}
        if r.chance is not None:
            entry["chance"] = r.chance
        entry["n"] = r.n
        out.setdefault(r.benchmark, {})[r.metric] = entry
    return out


def bar_plot(rows: list[Row], checkpoints: list[str], path: Path) -> Path:
    """Grouped bars per (benchmark, metric); chance as a grey dashed line, the paper's Music Flamingo as a black line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in rows if any(v is not None for v in r.values.values())]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(shown) + 2), 4.2))
    width = 0.8 / max(len(checkpoints), 1)
    for i, ck in enumerate(checkpoints):
        xs = [j + i * width for j in range(len(shown))]
        ax.bar(xs, [r.values.get(ck) or 0.0 for r in shown], width, label=ck)
    for j, r in enumerate(shown):
        span = (j - width / 2, j + width * (len(checkpoints) - 0.5))
        if r.chance is not None:
            ax.hlines(r.chance, *span, colors="grey", linestyles="dashed", linewidth=1.2)
        ref = r.reference()
        if ref is not None and ref.unit == "percent":
            ax.hlines(ref.as_fraction()[0], *span, colors="black", linewidth=2)
    ax.set_xticks([j + width * (len(checkpoints) - 1) / 2 for j in range(len(shown))])
    ax.set_xticklabels([f"{r.benchmark}\n{r.metric}" for r in shown], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score (fraction)")
    ax.set_title("Evaluation per checkpoint (grey dashed: chance; black: the paper's Music Flamingo)")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def as_dicts(rows: list[Row]) -> list[dict]:
    return [asdict(r) for r in rows]


CONTROLS = ("audio", "silence", "other_track")
CONTROL_LABELS = {"audio": "with its audio", "silence": "silence", "other_track": "another held-out track"}
ABLATION = (("sft", "SFT only"), ("coldstart", "+ cold start"), ("grpo", "+ GRPO"))


def _ci(s: dict | None) -> str:
    if not s or s.get("accuracy") is None:
        return "–"
    lo, hi = s.get("ci95") or (None, None)
    return f"{s['accuracy']:.3f} [{lo:.3f}, {hi:.3f}]" if lo is not None else f"{s['accuracy']:.3f}"


def proof_rows(proof: dict[str, dict[str, dict]], checkpoints: list[str]) -> list[dict]:
    """One row per (checkpoint, skill family, plus "all"): accuracy with its audio and under each
    no-audio control, 95 % Wilson intervals, and whether the audio row's interval lies above
    every control's (the learning proof: the model answers from the audio, not the text)."""
    out = []
    for ck in checkpoints:
        conds = proof.get(ck) or {}
        main = conds.get("audio")
        if not main:
            continue
        families = ["all", *sorted(main["by_skill"])]
        for fam in families:
            cells = {c: (conds[c] if fam == "all" else conds[c]["by_skill"].get(fam)) for c in CONTROLS if c in conds}
            a = cells.get("audio")
            controls = [v for c, v in cells.items() if c != "audio" and v]
            best = max((v["accuracy"] for v in controls), default=None)
            top = max((v["ci95"][1] for v in controls if v.get("ci95") and v["ci95"][1] is not None), default=None)
            out.append({
                "checkpoint": ck, "family": fam, "n": a["n"] if a else 0,
                **{c: cells.get(c) for c in CONTROLS},
                "chance": main["chance"],
                "delta": round(a["accuracy"] - best, 4) if a and best is not None else None,
                "separated": bool(a and top is not None and a["ci95"][0] is not None and a["ci95"][0] > top),
            })
    return out


def proof_markdown(rows: list[dict]) -> list[str]:
    head = ["checkpoint", "skill family", "n", *(f"acc. {CONTROL_LABELS[c]} [95% CI]" for c in CONTROLS), "chance",
            "audio − best control", "CIs separated"]
    lines = ["## Does the model use the audio? (held-out MCQ, no-audio controls)", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["checkpoint"], r["family"], str(r["n"]), *(_ci(r.get(c)) for c in CONTROLS), _fmt(r["chance"]),
                 "–" if r["delta"] is None else f"{r['delta']:+.3f}", "yes" if r["separated"] else "no"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "- Controls: the same checkpoint and prompts, with the clip replaced by silence of the same length "
              "(same number of `<sound>` tokens), or by the audio of another held-out track (a fixed derangement of "
              "the held-out tracks). 95% intervals: Wilson score (scipy). 'CIs separated': the lower bound with audio "
              "is above the upper bound of every control.", ""]
    return lines


def ablation_markdown(ablation: dict[str, dict]) -> list[str]:
    """The paper's ablation shape (SFT only -> + cold start -> + GRPO) with held-out MCQ accuracy and reward."""
    rows = [(ck, label) for ck, label in ABLATION if ck in ablation]
    if not rows:
        return []
    lines = ["## Ablation: SFT only → + cold start → + GRPO (held-out MCQ)", "",
             "| recipe | checkpoint | MCQ accuracy [95% CI] | reward | format | accuracy reward | structured |", "|---|---|---|---|---|---|---|"]
    for ck, label in rows:
        a = ablation[ck]
        lines.append(f"| {label} | {ck} | {_ci(a)} | {_fmt(a.get('reward'))} | {_fmt(a.get('format'))} | "
                     f"{_fmt(a.get('accuracy_reward'))} | {_fmt(a.get('structured'))} |")
    lines += ["", "- Reward: GRPO's weighted sum (format + accuracy + structured thinking, `train.grpo.reward_weights`) "
              "of the greedy held-out outputs. SFT only is asked the plain question (it never learnt the think/answer "
              "format, so its format reward is 0 by construction); the paper reports the same rows as "
              "'without RL' / 'with GRPO'.", ""]
    return lines
