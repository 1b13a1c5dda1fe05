"""Figures of fitted kmix models (the optional extra ``kmix[plot]``: matplotlib).

Every function takes a fitted model (or a result) and returns a
:class:`matplotlib.figure.Figure`; each accepts ``ax=`` to draw into existing
axes instead (a panel of a larger figure). matplotlib is imported only when a
figure is drawn, and never through ``pyplot``: nothing global is touched, and
``fig.savefig("profile.svg")`` writes the file.

==========================  =====================================================
:func:`class_profiles`      each class's probability of every response
:func:`coin_atoms`          k-coin: the coins over the histogram of head counts
:func:`choose_k`            BIC and the rank (or Hankel) test against k
:func:`dag_figure`          a DAG with the hidden population U as a latent node
:func:`effect_figure`       naive contrast, kmix's effect, per-source effects
:func:`convergence`         log-likelihood per EM step
:func:`covariate_effects`   logit coefficients of class membership
:func:`distal_outcome`      a distal outcome per class
:func:`discovered_graph`    a learned class with each edge's evidence
==========================  =====================================================

Examples
--------
>>> import io
>>> from kmix import ProductMixture
>>> from kmix.datasets import carcinoma
>>> from kmix.plotting import class_profiles
>>> data = carcinoma()
>>> model = ProductMixture(3, random_state=0).fit(data.patterns, sample_weight=data.counts)
>>> fig = class_profiles(model)
>>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
['class 1 (44.5%)', 'class 2 (37.4%)', 'class 3 (18.2%)']
>>> fig.savefig(io.BytesIO(), format="svg")
"""

from __future__ import annotations

from .coins import coin_atoms
from .convergence import convergence
from .effects import effect_figure, effect_rows
from .graph import dag_figure, discovered_graph, layered_layout
from .profiles import class_profiles, profile_tables
from .regression import covariate_effects, distal_outcome
from .selection import choose_k

__all__ = [
    "choose_k",
    "class_profiles",
    "coin_atoms",
    "convergence",
    "covariate_effects",
    "dag_figure",
    "discovered_graph",
    "distal_outcome",
    "effect_figure",
    "effect_rows",
    "layered_layout",
    "profile_tables",
]
