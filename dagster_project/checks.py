"""Blocking Great Expectations checks, one per dataset asset, named as predicates.

A failing check shows each failing expectation in the Dagster UI and stops
the downstream stages (the checked asset itself is already stored).
"""


import dagster as dg

from dagster_project.resources import ProjectRoot
from musicflamingo import inbox, registry


def _gx_check(dataset: str, name: str, description: str, per_batch: bool = False) -> dg.AssetChecksDefinition:
    key = dg.AssetKey(["batch", dataset]) if per_batch else dg.AssetKey(dataset)

    @dg.asset_check(asset=key, name=name, description=description, blocking=True)
    def _check(context: dg.AssetCheckExecutionContext, project: ProjectRoot) -> dg.AssetCheckResult:
        from musicflamingo.expectations import validate_folder

        base = inbox.batches_dir(project.path) / context.partition_key if per_batch else project.path
        outcome = validate_folder(dataset, base / registry.get(dataset).out)
        return dg.AssetCheckResult(
            passed=outcome.success,
            severity=dg.AssetCheckSeverity.ERROR,
            description=None if outcome.success else "; ".join(f"{f['expectation']}({f['column']}) unexpected={f['unexpected']}" for f in outcome.failures),
            metadata={
                "rows": outcome.rows,
                "expectations_evaluated": outcome.evaluated,
                "failing_expectations": dg.MetadataValue.json(outcome.failures),
            },
        )

    return _check


CHECKS = [
    ("raw_audio", "tracks_are_decodable_and_unique", "Every track decodes, has a unique content hash and a duration in 1-1200 s."),
    ("mir_metadata", "mir_facts_are_in_range", "Tempo in 20-300 BPM, key in the 24-key set, known meter, sorted beats."),
    ("mf_skills", "qa_answers_are_among_options", "Every MCQ answer is one of its 4 options, every item has a known skill family, fact ids and passed the claim checker; held-out tracks never in train."),
    ("mf_think", "think_samples_are_well_tagged", "Every sample is strictly <think>..</think><answer>..</answer>, answers its letter and has a verdict for every step."),
]
dataset_checks = [_gx_check(*c) for c in CHECKS]
# The same gates on every ingest batch: a bad batch stops before it reaches the next stage.
batch_checks = [_gx_check(*c, per_batch=True) for c in CHECKS]
