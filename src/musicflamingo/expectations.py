"""Great Expectations (1.x) suites for the four datasets, built from the schemas.

Used by the blocking Dagster asset checks. GX is imported lazily (2-4 s);
one validation takes a few hundredths of a second. Row-level rules that GX
cannot express on nested JSON (an answer among its options, strict think
tags) become boolean columns first, then plain expectations on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from musicflamingo.data.builtin_writer import SKILLS
from musicflamingo.data.formats import LETTERS
from musicflamingo.think_answer import answer_span, is_well_formed
from musicflamingo.io import read_jsonl
from musicflamingo.schemas import KEYS_24


@dataclass
class Outcome:
    success: bool
    rows: int
    failures: list[dict]
    evaluated: int


def _frame(path: Path, columns: list[str]) -> pd.DataFrame:
    rows = read_jsonl(path)
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=columns)


def raw_audio_frame(folder: Path) -> pd.DataFrame:
    return _frame(folder / "tracks.jsonl", ["id", "path", "duration_s", "sample_rate"])


def mir_frame(folder: Path) -> pd.DataFrame:
    df = _frame(folder / "tracks.jsonl", ["track_id", "tempo_bpm", "key", "time_signature", "tempo_confidence", "beats"])
    df["beats_sorted"] = df["beats"].map(lambda b: all(x < y for x, y in zip(b, b[1:])))
    return df


def skills_frame(folder: Path) -> pd.DataFrame:
    train = _frame(folder / "train.jsonl", ["id", "task", "track_id"])
    held = _frame(folder / "heldout.jsonl", ["id", "task", "track_id"])
    train["split"], held["split"] = "train", "heldout"
    df = pd.concat([train, held], ignore_index=True)
    held_tracks = set(held["track_id"])
    df["split_by_track"] = ~(df["split"].eq("train") & df["track_id"].isin(held_tracks))
    df["answer_in_options"] = [
        (task != "mcq") or (isinstance(opts, list) and len(opts) == 4 and ans in opts and opts[LETTERS.index(let)] == ans)
        for task, opts, ans, let in zip(df["task"], df.get("options", [None] * len(df)), df.get("answer", [None] * len(df)), df.get("answer_letter", ["A"] * len(df)))
    ]
    df["starts_with_sound"] = df["conversations"].map(lambda c: c[0]["from"] == "human" and c[0]["value"].startswith("<sound>")) if len(df) else []
    # Every answer names the facts it comes from; every released item passed the claim-level fact check.
    df["has_fact_ids"] = df["fact_ids"].map(lambda f: isinstance(f, list) and len(f) > 0) if "fact_ids" in df else False
    df["skill"] = df["skill"] if "skill" in df else None
    outcomes = {r["id"]: r.get("outcome", "kept" if r.get("factuality", 0) >= 1.0 else "dropped") for r in read_jsonl(folder / "factcheck.jsonl")}
    df["passed_factcheck"] = df["id"].map(lambda i: outcomes.get(i) in ("kept", "repaired")) if len(df) else []
    return df


def think_frame(folder: Path) -> pd.DataFrame:
    df = _frame(folder / "train.jsonl", ["id", "conversations", "answer_letter", "answer"])
    replies = df["conversations"].map(lambda c: c[1]["value"]) if len(df) else pd.Series(dtype=str)
    df["well_tagged"] = replies.map(is_well_formed) if len(df) else []
    df["answer_matches_letter"] = [answer_span(r) == f"({let}) {ans}".strip() for r, let, ans in zip(replies, df["answer_letter"], df["answer"])] if len(df) else []
    # Every step has a stored verdict, and no released step still contradicts the facts.
    verdicts = df["step_verdicts"] if "step_verdicts" in df else pd.Series([None] * len(df), dtype=object)
    df["steps_verified"] = [isinstance(v, list) and len(v) > 0 and all(s.get("outcome") in ("kept", "rewritten", "removed") for s in v)
                            and not any(s.get("contradicted") and s.get("outcome") == "kept" for s in v) for v in verdicts] if len(df) else []
    return df


def _suites():
    import great_expectations as gx
    import great_expectations.expectations as gxe

    def suite(name, *exps):
        s = gx.ExpectationSuite(name=name)
        for e in exps:
            s.add_expectation(e)
        return s

    return {
        "raw_audio": suite(
            "raw_audio",
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            gxe.ExpectColumnValuesToBeUnique(column="id"),
            gxe.ExpectColumnValuesToNotBeNull(column="path"),
            gxe.ExpectColumnValuesToBeBetween(column="duration_s", min_value=1.0, max_value=1200.0),
            gxe.ExpectColumnValuesToBeBetween(column="sample_rate", min_value=8000, max_value=192000),
        ),
        "mir_metadata": suite(
            "mir_metadata",
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            gxe.ExpectColumnValuesToBeUnique(column="track_id"),
            gxe.ExpectColumnValuesToBeBetween(column="tempo_bpm", min_value=20, max_value=300),
            gxe.ExpectColumnValuesToBeInSet(column="key", value_set=list(KEYS_24)),
            gxe.ExpectColumnValuesToBeInSet(column="time_signature", value_set=["2/4", "3/4", "4/4", "5/4", "6/8", "unknown"]),
            gxe.ExpectColumnValuesToBeBetween(column="tempo_confidence", min_value=0.0, max_value=1.0),
            gxe.ExpectColumnValuesToBeInSet(column="beats_sorted", value_set=[True]),
        ),
        "mf_skills": suite(
            "mf_skills",
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            gxe.ExpectColumnValuesToBeUnique(column="id"),
            gxe.ExpectColumnValuesToBeInSet(column="task", value_set=["caption", "mcq", "open"]),
            gxe.ExpectColumnValuesToBeInSet(column="skill", value_set=["caption", *SKILLS]),
            gxe.ExpectColumnValuesToBeInSet(column="answer_in_options", value_set=[True]),
            gxe.ExpectColumnValuesToBeInSet(column="split_by_track", value_set=[True]),
            gxe.ExpectColumnValuesToBeInSet(column="starts_with_sound", value_set=[True]),
            gxe.ExpectColumnValuesToBeInSet(column="has_fact_ids", value_set=[True]),
            gxe.ExpectColumnValuesToBeInSet(column="passed_factcheck", value_set=[True]),
        ),
        "mf_think": suite(
            "mf_think",
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            gxe.ExpectColumnValuesToBeUnique(column="id"),
            gxe.ExpectColumnValuesToBeInSet(column="well_tagged", value_set=[True]),
            gxe.ExpectColumnValuesToBeInSet(column="answer_matches_letter", value_set=[True]),
            gxe.ExpectColumnValuesToBeInSet(column="steps_verified", value_set=[True]),
        ),
    }


FRAMES = {"raw_audio": raw_audio_frame, "mir_metadata": mir_frame, "mf_skills": skills_frame, "mf_think": think_frame}


def validate(dataset: str, df: pd.DataFrame) -> Outcome:
    """Validate a frame against the named suite with an ephemeral GX context."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    suite = context.suites.add(_suites()[dataset])
    batch = (
        context.data_sources.add_pandas(f"{dataset}_source")
        .add_dataframe_asset(dataset)
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": df})
    )
    result = batch.validate(suite)
    failures = [
        {
            "expectation": r.expectation_config.type,
            "column": r.expectation_config.kwargs.get("column"),
            "unexpected": (r.result or {}).get("partial_unexpected_list", [])[:5],
            "observed": (r.result or {}).get("observed_value"),
        }
        for r in result.results
        if not r.success
    ]
    return Outcome(success=bool(result.success), rows=len(df), failures=failures, evaluated=len(result.results))


def validate_folder(dataset: str, folder: Path) -> Outcome:
    return validate(dataset, FRAMES[dataset](folder))
