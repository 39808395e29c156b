"""Where the checkout's data lives: the repository root, found once from this file.

An editable install keeps the package in `src/veguard/`, so the root is two levels up.
Modules that default to a file in the checkout (`data/synthetic/`, `data/processed/`,
`eval/`, the shipped model in `veguard.modeldir`) build their path from `REPO_ROOT` instead
of counting parents themselves.
Left out: the environment overrides (`$VEGUARD_MODEL` etc.), read where they apply.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
