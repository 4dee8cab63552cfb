"""One job per group, plus the whole pipeline and the retraining run.

Selections are built from AssetSelection objects (not strings): robust to the antlr4 clash.
Run tags feed the run queue's limits (dagster.yaml): `mf/resource=gpu` runs one at a time,
`mf/resource=annotation` runs at most N at once.
"""

import dagster as dg

from dagster_project.partitions import audio_batches

GPU = {"mf/resource": "gpu"}
ANNOTATION = {"mf/resource": "annotation"}

project_assets = dg.AssetSelection.groups("data", "training", "evaluation")

pipeline_job = dg.define_asset_job("pipeline", selection=project_assets, description="Every stage, in dependency order, with its checks.", tags=GPU)
data_job = dg.define_asset_job("data", selection=dg.AssetSelection.groups("data"), description="The datasets from every batch present (cheap: per-track caches).")
training_job = dg.define_asset_job("training", selection=dg.AssetSelection.groups("training"), description="backbone, sft, coldstart, grpo.", tags=GPU)
evaluation_job = dg.define_asset_job("evaluation", selection=dg.AssetSelection.groups("evaluation"), description="Every checkpoint on the benchmarks.")
retraining_job = dg.define_asset_job(
    "retraining",
    selection=dg.AssetSelection.groups("data", "training"),
    description="Rebuild the datasets from every batch present at launch, then train; evaluation follows (eval_after_training).",
    tags=GPU,
)
annotation_job = dg.define_asset_job(
    "annotation",
    selection=dg.AssetSelection.groups("annotation"),
    partitions_def=audio_batches,
    description="One ingest batch: ingest, MIR, MF-Skills, MF-Think, each gated by its checks.",
    tags=ANNOTATION,
)

jobs = [pipeline_job, data_job, training_job, evaluation_job, retraining_job, annotation_job]
