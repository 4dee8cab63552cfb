"""Blocking Great Expectations checks, one per dataset asset, named as predicates.

A failing check shows each failing expectation in the Dagster UI and stops
the downstream stages (the checked asset itself is already stored).
"""


import dagster as dg

from dagster_project.resources import ProjectRoot
from musicflamingo import registry


def _gx_check(dataset: str, name: str, description: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=dg.AssetKey(dataset), name=name, description=description, blocking=True)
    def _check(project: ProjectRoot) -> dg.AssetCheckResult:
        from musicflamingo.expectations import validate_folder

        outcome = validate_folder(dataset, project.path / registry.get(dataset).out)
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


dataset_checks = [
    _gx_check("raw_audio", "tracks_are_decodable_and_unique", "Every track decodes, has a unique content hash and a duration in 1-1200 s."),
    _gx_check("mir_metadata", "mir_facts_are_in_range", "Tempo in 20-300 BPM, key in the 24-key set, known meter, sorted beats."),
    _gx_check("mf_skills", "qa_answers_are_among_options", "Every MCQ answer is one of its 4 options; held-out tracks never in train."),
    _gx_check("mf_think", "think_samples_are_well_tagged", "Every sample is strictly <think>..</think><answer>..</answer> and answers its letter."),
]
