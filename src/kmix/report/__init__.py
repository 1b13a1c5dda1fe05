"""``kmix report``: one self-contained HTML page for a fitted model or a learned graph.

:func:`build_report` turns a fitted estimator (FiniteMixture, CoinMixture,
ProductMixture, BayesNetMixture), a bootstrap of a BayesNetMixture or a
:class:`~kmix.causal.DiscoveryResult` into an HTML document: the fit in
numbers, the identifiability condition checked, the model's figures
(:mod:`kmix.plotting`, inline SVG) and tables, and the command that produced
the model when its file recorded one. With the training data it adds the fit
statistics and distal outcomes. The page has no script and fetches nothing.

Modules: ``html`` (the page, sections, tables, figures), ``models`` (the
mixture models' sections), ``causal`` (networks and learned graphs).

Examples
--------
>>> from kmix import ProductMixture
>>> from kmix.datasets import carcinoma
>>> from kmix.report import build_report
>>> data = carcinoma()
>>> model = ProductMixture(3, random_state=0).fit(data.patterns, sample_weight=data.counts)
>>> page = build_report(model, data=data.patterns, sample_weight=data.counts)
>>> page.startswith("<!DOCTYPE html>"), page.count("<svg"), "<script" in page, "src=" in page
(True, 2, False, False)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timezone
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

from ..causal import DiscoveryResult
from ..estimators import (
    BayesNetBootstrap,
    BayesNetMixture,
    CoinMixture,
    FiniteMixture,
    ProductMixture,
)
from ..exceptions import DataError
from .causal import bayesnet_sections, discovery_sections
from .html import Section, page
from .models import coin_sections, finite_sections, product_sections

__all__ = ["build_report", "write_report"]


def _version() -> str:
    try:
        return package_metadata.version("kmix")
    except package_metadata.PackageNotFoundError:  # pragma: no cover - a bare checkout
        return "(version unknown)"


def build_report(
    obj: Any,
    *,
    metadata: Mapping[str, Any] | None = None,
    source: str | None = None,
    data: Any = None,
    sample_weight: Any = None,
    covariates: Any = None,
    distal: Mapping[str, Any] | None = None,
    distal_method: str = "bch",
    treatment: str | None = None,
    outcome: str | None = None,
    treated: Any = None,
    control: Any = None,
    title: str | None = None,
) -> str:
    """The HTML report of a fitted model, a bootstrap or a learned graph.

    Parameters
    ----------
    obj : estimator, BayesNetBootstrap or DiscoveryResult
    metadata : mapping, optional
        The model file's metadata (``kmix.io.read_metadata``): its ``command``
        and ``data`` are shown, and a network's ``treatment`` / ``outcome``
        are the effect drawn when none is named.
    source : str, optional
        The model file's name, shown in the header.
    data : array-like, optional
        The training rows (ProductMixture: fit statistics; CoinMixture: the
        head counts of the histogram; with ``distal``, the items).
    sample_weight : array-like, optional
    covariates : mapping or array-like, optional
        The rows' covariates, for a model fitted with ``covariates=`` (its
        fit statistics and distal outcomes need them).
    distal : mapping of name to array-like, optional
        Distal outcomes (one value per row of ``data``), each shown per
        class by ``distal_method`` (:func:`kmix.distal`).
    distal_method : {"bch", "ml", "modal", "one-step"}, default "bch"
    treatment, outcome, treated, control : optional
        The effect of a network to draw.
    title : str, optional

    Returns
    -------
    str
        The document.
    """
    meta = dict(metadata or {})
    boot = None
    if isinstance(obj, BayesNetBootstrap):
        boot, obj = obj, obj.model
    sections: list[Section]
    if isinstance(obj, ProductMixture):
        sections = product_sections(
            obj,
            data=data,
            sample_weight=sample_weight,
            covariates=covariates,
            distal=dict(distal or {}),
            distal_method=distal_method,
        )
    elif isinstance(obj, FiniteMixture):
        sections = finite_sections(obj)
    elif isinstance(obj, CoinMixture):
        sections = coin_sections(obj, heads=data)
    elif isinstance(obj, BayesNetMixture):
        sections = bayesnet_sections(
            obj,
            bootstrap=boot,
            treatment=treatment if treatment is not None else meta.get("treatment"),
            outcome=outcome if outcome is not None else meta.get("outcome"),
            treated=treated if treated is not None else meta.get("treated"),
            control=control if control is not None else meta.get("control"),
        )
    elif isinstance(obj, DiscoveryResult):
        sections = discovery_sections(obj)
    else:
        raise DataError(
            "kmix report describes FiniteMixture, CoinMixture, ProductMixture, BayesNetMixture "
            f"(or its bootstrap) and learned graphs; got {type(obj).__name__}"
        )
    if distal and not isinstance(obj, ProductMixture):
        raise DataError("distal outcomes are reported for ProductMixture models only")
    kind = type(obj).__name__ + (" with its bootstrap" if boot is not None else "")
    header = [
        f"{kind}" + (f" from {source}" if source else ""),
        f"Command: {meta['command']}" if meta.get("command") else "Command: not recorded",
        *([f"Data: {meta['data']}"] if meta.get("data") else []),
        f"kmix {_version()}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
    ]
    return page(title or f"kmix report: {type(obj).__name__}", header, sections)


def write_report(path: str | os.PathLike[str], document: str) -> Path:
    """Write the document (UTF-8) and return its path."""
    out = Path(path)
    if out.suffix.lower() not in (".html", ".htm"):
        raise DataError(f"the report is an HTML file: give --out a name ending in .html; got {out}")
    out.write_text(document, encoding="utf-8")
    return out
