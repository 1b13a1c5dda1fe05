"""Save and load fitted models as versioned, checksummed JSON (never pickle).

A model file is one JSON object::

    {
      "format": "kmix-model",
      "version": 2,                # VERSION; READABLE_VERSIONS are loaded
      "estimator": "FiniteMixture",
      "hyper_parameters": {...},   # get_params(), the JSON-representable ones
      "not_saved": ["callback"],   # hyper-parameters left at their default
      "fitted": {...},             # trailing-underscore attributes
      "metadata": {...},           # free-form, e.g. the training columns
      "sha256": "..."
    }

``sha256`` is the SHA-256 of the canonical JSON text of every other member
(keys sorted, no whitespace, UTF-8; see :func:`document_checksum`). Floats are
written with Python's shortest round-trip representation, so a loaded model
holds bit-identical arrays and gives identical ``predict_proba``,
``score_samples`` and ``sample``.

Loading trusts nothing: the format tag, version and checksum are checked
first, then every fitted value goes through the same validation as a freshly
fitted one (:func:`kmix.params.check_weights`, the parameter dataclasses and
``family.params_from_dict`` for shapes and ranges). Anything malformed raises
:class:`~kmix.exceptions.DataError` naming the file and the member.

Each estimator class has a :class:`Codec` that turns its fitted state into
plain JSON values and back; :func:`register_codec` adds one for a new
estimator. Results that are not estimators (a bootstrap, a discovered graph)
have codecs too (``Codec(..., load_value=...)``): their files have empty
``hyper_parameters`` and ``not_saved``, and ``fitted`` holds the whole result.

The package holds two modules for the file format, shared by every
estimator, and one codec module per estimator:

``_format``
    The document, whatever the estimator: conversion to JSON values, the
    canonical form and its checksum, :class:`FieldReader`, the codec registry,
    the header checks, :func:`to_document` and :func:`from_document`.
``_files``
    The document as text and on disk: :func:`dumps`, :func:`save`,
    :func:`load` and :func:`read_metadata`.
``_finite``
    The codec of :class:`~kmix.estimators.FiniteMixture`.
``_coin``
    The codec of :class:`~kmix.estimators.CoinMixture`.
``_product``
    The codec of :class:`~kmix.estimators.ProductMixture`.
``_bayesnet``
    The codecs of :class:`~kmix.estimators.BayesNetMixture` (its training
    rows and reduction included, the latter in ``_reduction``) and of its
    bootstrap, :class:`~kmix.estimators.BayesNetBootstrap`.
``_discovery``
    The codec of :class:`~kmix.causal.DiscoveryResult`, the equivalence
    class learned by :func:`kmix.causal.discover`.

To make a new estimator saveable, add a module ``_<estimator>.py`` beside
``_finite.py`` that defines its ``dump_fitted`` and ``load_fitted`` functions
(built on :func:`to_json_value` and :class:`FieldReader`) and ends with one
``register_codec(Codec(...))`` call, then import that module below, next to
``_finite``. Importing a codec module is what registers its codec, so every
estimator is known to :func:`save` and :func:`load` as soon as ``kmix.io`` is
imported.
"""

from __future__ import annotations

# codec modules: each registers its estimator's codec when imported
from . import _bayesnet, _coin, _discovery, _finite, _product  # noqa: F401
from ._files import dumps, load, read_metadata, save
from ._format import (
    FORMAT,
    READABLE_VERSIONS,
    VERSION,
    Codec,
    FieldReader,
    document_checksum,
    from_document,
    register_codec,
    to_document,
    to_json_value,
)

__all__ = [
    "FORMAT",
    "READABLE_VERSIONS",
    "VERSION",
    "Codec",
    "FieldReader",
    "document_checksum",
    "dumps",
    "from_document",
    "load",
    "read_metadata",
    "register_codec",
    "save",
    "to_document",
    "to_json_value",
]
