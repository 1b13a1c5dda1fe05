"""Every script under ``examples/`` runs, prints what it promises and writes its figures.

The scripts are the documentation's runnable examples (``examples/README.md`` lists them);
each is run as ``python examples/NAME.py OUTDIR`` in a subprocess (its own interpreter, as a
reader would run it). The numbers checked come from the sources the scripts cite: the marbles'
closed form (P(red) - 0.3) / 0.5 computed here from the same simulated rows, and the carcinoma
data's published maximum log-likelihood -293.705 (Agresti 2002, table 13.4).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
#: script -> the figures (and report) it must write
OUTPUTS = {
    "finite_mixture.py": ["finite_convergence.png"],
    "coins.py": ["coins.png", "coins_k.png"],
    "latent_classes.py": ["latent_profiles.png", "latent_k.png", "latent_report.html"],
    "covariates.py": ["covariates.png", "distal.png"],
    "causal_effect.py": ["dag.png", "effect.png"],
    "discovery.py": ["discovered.png"],
}
PNG = b"\x89PNG\r\n\x1a\n"


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(OUTPUTS)
    listed = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in listed for name in OUTPUTS)


def _run(name: str, out: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for file in OUTPUTS[name]:
        path = out / file
        assert path.is_file(), f"{name} did not write {file}"
        if file.endswith(".png"):
            assert path.read_bytes()[:8] == PNG and path.stat().st_size > 5_000
    return done.stdout


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_example_runs(name, tmp_path):
    text = _run(name, tmp_path)
    if name == "finite_mixture.py":
        em, closed = map(float, re.search(r"EM ([\d.]+), closed form ([\d.]+)", text).groups())
        assert abs(em - closed) < 1e-3  # EM's weight equals the closed form on these rows
    elif name == "latent_classes.py":
        assert "log-likelihood -293.705" in text  # the published maximum
        assert "<svg" in (tmp_path / "latent_report.html").read_text(encoding="utf-8")
    elif name == "causal_effect.py":
        kmix, naive, truth = map(
            float, re.search(r"kmix ([-+.\d]+), naive ([-+.\d]+), truth ([-+.\d]+)", text).groups()
        )
        assert abs(kmix - truth) < abs(naive - truth) / 5
    elif name == "discovery.py":  # this instance's skeleton is recovered exactly
        true, learned = re.search(r"true edges: (.*)\nlearned: +(.*)\n", text).groups()
        assert true == learned


def test_the_readme_figures_exist():
    """The README shows figures that ``make figures`` (``kmix demo --plots docs/figures``) draws."""
    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    shown = re.findall(r"!\[[^]]*\]\((docs/figures/[^)]+)\)", readme)
    assert len(shown) >= 2
    for path in shown:
        assert (EXAMPLES.parent / path).read_bytes()[:8] == PNG
