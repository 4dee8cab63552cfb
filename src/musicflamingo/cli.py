"""`musicflamingo`: the command line. Every subcommand is a thin call into the library.

    musicflamingo configure [experiment=smoke] [key=value ...]   write params.yaml
    musicflamingo run                                            materialize the whole graph through Dagster
    musicflamingo stage <name>                                   run one stage (what dvc.yaml calls)
    musicflamingo dvc-yaml [--check]                             regenerate dvc.yaml from the registry
    musicflamingo stages                                         list the registry
    musicflamingo lineage model music-flamingo grpo [--tracks]   data, config, code and runs behind a model
    musicflamingo lineage track <path|sha256>                    which dataset and model versions used a track
    musicflamingo mir annotate <folder|manifest> --out <dir>     MIR facts for any audio (what mir_metadata runs)
    musicflamingo mir evaluate --truth <dir> --pred <jsonl>      MIR facts against ground truth, per tool and fused
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from musicflamingo import env, registry


def _cmd_configure(args) -> int:
    from musicflamingo.config import compose, write_params
    from musicflamingo.configs import ConfigError

    root = env.find_root()
    try:
        cfg = compose(args.overrides)
    except ConfigError as exc:  # nothing is written: params.yaml keeps the last valid run
        print(f"musicflamingo configure: {exc}", file=sys.stderr)
        return 2
    path = write_params(cfg, root)
    print(f"wrote {path}")
    return 0


def _cmd_stage(args) -> int:
    from musicflamingo.config import load_params
    from musicflamingo.stage import configure_logging, run_stage

    configure_logging()
    root = env.find_root()
    env.apply(root)
    cfg = load_params(root, args.overrides)
    from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes

    from musicflamingo.configs import ConfigError
    from musicflamingo.llm.base import LLMUnavailable
    from musicflamingo.stage import StageFailed

    try:
        # Launched by a Dagster asset (through `dvc repro`): report back via Pipes.
        if PipesEnvVarParamsLoader().is_dagster_pipes_process():
            with open_dagster_pipes() as pipes:
                summary = run_stage(args.name, cfg, root, pipes=pipes)
                pipes.report_asset_materialization(metadata={k: v for k, v in summary.items() if isinstance(v, (int, float, str, bool))})
        else:
            summary = run_stage(args.name, cfg, root)
    except ConfigError as exc:  # params.yaml or an override breaks the schema: nothing ran
        print(f"musicflamingo stage {args.name}: {exc}", file=sys.stderr)
        return 2
    except (LLMUnavailable, StageFailed) as exc:
        # A dead endpoint or an unusable LLM is a one-line error, not a traceback; the previous output is untouched.
        print(f"musicflamingo stage {args.name} failed: {exc}", file=sys.stderr)
        return 3
    print(json.dumps(summary, indent=2, default=str))
    return 0


def _cmd_run(args) -> int:
    from dagster_project.orchestrate import materialize_all

    root = env.find_root()
    env.apply(root)
    t0 = time.perf_counter()
    ok = materialize_all(root, selection=args.select)
    if ok and args.push:
        from dagster_project.orchestrate import dvc_push_and_status

        ok = dvc_push_and_status(root)
    print(f"\nmusicflamingo run: {'done' if ok else 'FAILED'} in {time.perf_counter() - t0:.1f} s")
    return 0 if ok else 1


def _cmd_dvc_yaml(args) -> int:
    from musicflamingo import dvcgen

    root = env.find_root()
    if args.check:
        current = (root / "dvc.yaml").read_text() if (root / "dvc.yaml").exists() else ""
        if current != dvcgen.render():
            print("dvc.yaml is out of date with the registry; run `musicflamingo dvc-yaml`", file=sys.stderr)
            return 1
        print("dvc.yaml matches the registry")
        return 0
    print(f"wrote {dvcgen.write(root)}")
    return 0


def _cmd_lineage(args) -> int:
    from musicflamingo import lineage

    root = env.find_root()
    env.apply(root)
    if args.what == "model":
        report = lineage.model_report(root, args.name, args.ref, list_tracks=args.tracks)
    else:
        report = lineage.track_report(root, args.name)
    if args.json:
        print(json.dumps(report, indent=2))
    elif args.what == "model":
        print(f"{report['model']} v{report['version']} (aliases: {', '.join(report['aliases']) or '-'})")
        for node in report["chain"]:
            print(f"  {node['stage']:10s} run {node['mlflow_run_id']}  git {node['git_commit']}  dagster {node['dagster_run_id']}")
            print(f"  {'':10s} config {node['config']}")
            for dep, md5 in node["inputs_dvc_md5"].items():
                print(f"  {'':10s} input  {dep:12s} dvc md5 {md5}")
        print(f"  training data: {report['training_datasets']}")
        print(f"  tracks: {report['track_count']}")
        for t in report.get("tracks", []):
            print(f"    {t}")
    else:
        print(f"track {report['track_id']}")
        print("  dataset versions: " + (", ".join(report["dataset_versions"]) or "none"))
        for m in report["model_versions"]:
            print(f"  model {m['model']} v{m['version']} aliases={m['aliases']}")
    return 0


def _cmd_stages(args) -> int:
    for s in registry.STAGES:
        print(f"{s.name:14s} [{s.group}] deps={','.join(s.deps) or '-'} params={','.join(s.params)}\n{'':14s} {s.description}")
    return 0


def _cmd_env(args) -> int:
    for k, v in env.defaults(env.find_root()).items():
        if k != "PATH":
            print(f"export {k}={v!s}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="musicflamingo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("configure", help="compose conf/ with Hydra overrides and write params.yaml")
    c.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. experiment=smoke mir.jobs=2")
    c.set_defaults(func=_cmd_configure)

    s = sub.add_parser("stage", help="run one stage in this process (what each dvc.yaml cmd calls)")
    s.add_argument("name", choices=list(registry.BY_NAME), help="stage name")
    s.add_argument("overrides", nargs="*", help="dotted key=value overrides on top of params.yaml (not tracked by DVC)")
    s.set_defaults(func=_cmd_stage)

    r = sub.add_parser("run", help="materialize the whole asset graph (with checks) through Dagster")
    r.add_argument("--push", action="store_true", help="afterwards, `dvc push` to the configured remote and check `dvc status` is clean")
    r.add_argument("--select", default="*", help="Dagster asset selection: a stage name, '+mf_think' (with everything upstream), 'mf_skills+' (and downstream), or Dagster syntax like 'group:data' (default: all)")
    r.set_defaults(func=_cmd_run)

    d = sub.add_parser("dvc-yaml", help="write dvc.yaml from the stage registry")
    d.add_argument("--check", action="store_true", help="exit 1 if the committed dvc.yaml is stale")
    d.set_defaults(func=_cmd_dvc_yaml)

    lin = sub.add_parser("lineage", help="audit lineage: `lineage model music-flamingo grpo` or `lineage track <path|sha256>`")
    lin.add_argument("what", choices=["model", "track"])
    lin.add_argument("name", help="registered model name (model) or audio path / sha256 (track)")
    lin.add_argument("ref", nargs="?", default="grpo", help="model version number or alias (default: grpo)")
    lin.add_argument("--tracks", action="store_true", help="list the track ids, not only their count")
    lin.add_argument("--json", action="store_true", help="print JSON")
    lin.set_defaults(func=_cmd_lineage)

    sub.add_parser("stages", help="list the stages of the registry").set_defaults(func=_cmd_stages)
    sub.add_parser("env", help="print the embedded services' environment as shell exports").set_defaults(func=_cmd_env)
    from musicflamingo.mir.cli import add_commands as add_mir_commands

    add_mir_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
