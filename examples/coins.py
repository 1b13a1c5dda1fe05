"""CoinMixture: four coins recovered from seven flips per trial (the k-coin problem).

Seven = 2k - 1 flips identify k = 4 coins from the moments of the head counts; the Hankel
spectrum says how many coins the counts support.
"""

import sys
from pathlib import Path

import numpy as np

from kmix import CoinMixture, select_k_coins
from kmix.datasets import coin_flips
from kmix.params import BinomialParams, Mixture
from kmix.plotting import choose_k, coin_atoms

out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
truth = Mixture(
    np.array([0.3, 0.25, 0.25, 0.2]), BinomialParams(np.array([[0.1], [0.35], [0.6], [0.9]]))
)
heads = coin_flips(truth, 1_000_000, 7, random_state=0)
model = CoinMixture(4).fit(heads, n_trials=7)
print("biases:", model.biases_.round(3).tolist(), "weights:", model.weights_.round(3).tolist())
selection = select_k_coins(heads, n_trials=7)
print(f"coins the Hankel spectrum supports: {selection.hankel_k}; BIC's choice: {selection.bic_k}")
coin_atoms(model, heads[:20_000]).savefig(out / "coins.png", dpi=80)
choose_k(selection).savefig(out / "coins_k.png", dpi=80)
