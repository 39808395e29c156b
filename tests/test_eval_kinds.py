"""Every suite kind is declared once in veguard.evaluation.kinds, and its code is found."""

from __future__ import annotations

import inspect

from veguard.evaluation import kinds
from veguard.evaluation.suites import discover


def test_every_kind_names_existing_functions():
    for kind in kinds.KINDS.values():
        for ref in (kind.runner, kind.section, kind.headline):
            f = kind._resolve(ref)
            assert callable(f), f"{kind.name}: {ref}"
        assert len(inspect.signature(kind._resolve(kind.runner)).parameters) == 2
        assert len(inspect.signature(kind._resolve(kind.section)).parameters) == 3
        assert len(inspect.signature(kind._resolve(kind.headline)).parameters) == 3
        assert kind.metrics and not set(kind.schema) & set(kinds.COMMON)


def test_shipped_suites_use_declared_kinds_in_order():
    suites = discover()
    order = [kinds.KIND_ORDER.index(s.kind) for s in suites.values()]
    assert order == sorted(order) and set(kinds.KIND_ORDER) >= {s.kind for s in suites.values()}
