"""Planning the latent class runs of k-MixBND (kmix.solvers.bayesnet.planning).

Reference: the alignment graph of the planned runs (one connected component),
on the exact population table of a DAG without edges.
"""

from __future__ import annotations

from kmix.datasets import bayesnet_mixture
from kmix.params.dag import DAG
from kmix.solvers.bayesnet.planning import alignment_components, design_run, plan_runs
from kmix.solvers.bayesnet.runs import RunDesign
from tests.helpers.bayesnet import population


def test_bridging_run_connects_disjoint_families():
    dag = DAG(("A1", "A2", "A3", "B1", "B2", "B3"), {})
    _, truth = bayesnet_mixture(dag, 2, 0, random_state=0)
    X, _, counts = population(truth)
    # two families of runs with no key in common (the search itself would share keys)
    designs = [
        RunDesign(t, members, (), dict.fromkeys(members, ()), ())
        for t, members in (("A1", ("A1", "A2", "A3")), ("B1", ("B1", "B2", "B3")))
    ]
    defaults = dict.fromkeys(dag.nodes, 0)
    plan = plan_runs(dag, X, counts, [2] * 6, 2, defaults=defaults, designs=designs)
    assert len(alignment_components(plan.runs)) == 1
    bridges = [r for r in plan.runs if r.target is None]
    assert len(bridges) == 1
    assert {m[0] for m in bridges[0].members} == {"A", "B"}
    # the search prefers the smallest conditioning set: here none is needed
    levels = dict.fromkeys(dag.nodes, 2)
    design = design_run(dag, levels, 2, {"A1": ()}, target="A1")
    assert design is not None and design.cond == () and len(design.members) >= 3
