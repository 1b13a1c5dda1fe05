"""Background knowledge for causal discovery: forbidden and required edges, temporal tiers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..exceptions import DataError

__all__ = ["Background", "as_background"]


@dataclass(frozen=True)
class Background:
    """Knowledge that the search respects.

    Parameters
    ----------
    forbidden : iterable of (a, b)
        Directed edges ``a -> b`` that do not exist. A pair forbidden both
        ways is removed before any test; one forbidden one way, if adjacent,
        points the other way.
    required : iterable of (a, b)
        Directed edges ``a -> b`` that exist: kept whatever the tests say,
        and oriented.
    tiers : sequence of sequences of names
        Temporal tiers, earliest first: no edge points from a later tier to
        an earlier one (edges within a tier are allowed).
    """

    forbidden: tuple[tuple[str, str], ...] = ()
    required: tuple[tuple[str, str], ...] = ()
    tiers: tuple[tuple[str, ...], ...] = ()

    def pairs(self, names: Sequence[str]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """``(required, forbidden)`` as index pairs over ``names``; names checked."""
        idx = {v: i for i, v in enumerate(names)}

        def index(a: str, b: str, what: str) -> tuple[int, int]:
            for v in (a, b):
                if v not in idx:
                    raise DataError(f"background {what} edge ({a!r}, {b!r}): no column {v!r}")
            return idx[a], idx[b]

        required = [index(a, b, "required") for a, b in self.required]
        forbidden = [index(a, b, "forbidden") for a, b in self.forbidden]
        for t, tier in enumerate(self.tiers):
            for later in self.tiers[t + 1 :]:
                forbidden += [index(b, a, "tier") for a in tier for b in later]
        clash = set(required) & set(forbidden)
        if clash:
            a, b = sorted(clash)[0]
            raise DataError(
                f"background knowledge both requires and forbids {names[a]} -> {names[b]}"
            )
        return required, forbidden


def as_background(obj: Background | Mapping[str, Any] | None) -> Background:
    """A :class:`Background` from itself, a mapping with its fields, or None."""
    if obj is None:
        return Background()
    if isinstance(obj, Background):
        return obj
    if isinstance(obj, Mapping):
        unknown = set(obj) - {"forbidden", "required", "tiers"}
        if unknown:
            raise DataError(
                f"background keys must be forbidden, required and tiers; got {sorted(unknown)}"
            )
        return Background(
            tuple((str(a), str(b)) for a, b in obj.get("forbidden", ())),
            tuple((str(a), str(b)) for a, b in obj.get("required", ())),
            tuple(tuple(str(v) for v in tier) for tier in obj.get("tiers", ())),
        )
    raise DataError(f"background must be a Background, a mapping or None; got {obj!r}")
