"""Resources shared by the assets and checks."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from musicflamingo import env


class ProjectRoot(dg.ConfigurableResource):
    """Where dvc.yaml, params.yaml, data/ and models/ live (defaults to `$MF_ROOT` or this checkout)."""

    root: str

    @property
    def path(self) -> Path:
        return Path(self.root)


def default_root() -> ProjectRoot:
    root = env.find_root(Path(__file__).resolve().parent)
    env.apply(root)
    return ProjectRoot(root=str(root))
