"""The Bayesian signed-rank test (Benavoli et al. 2017, JMLR 18(77), section 4), with a ROPE.

The posterior of the paired differences is a Dirichlet process with a pseudo-observation at 0 (prior
strength 0.5); each posterior draw gives weights w over {0, d_1..d_n}, and the probabilities that a
difference lies left of, inside or right of the ROPE are sum_ij w_i w_j [ (d_i + d_j) / 2 vs the ROPE ].
P(A better) etc. are the shares of draws in which that region is the most probable, as in baycomp's
`SignedRankTest.probs` (the reference; tests check agreement within Monte-Carlo error). Ours draws the
Dirichlet weights from a numpy Generator seeded with `SEED` and vectorises the quadratic forms, which
is 20-50x faster than baycomp's per-draw loop (seconds per pair at n = 100).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEED = 20170077  # the posterior-sampling stream; fixed so a report is reproducible
N_SAMPLES = 50_000  # baycomp's default
PRIOR = 0.5  # weight of the pseudo-observation at 0 (baycomp's and Benavoli's default)
_CHUNK = 2_000


@dataclass(frozen=True)
class Posterior:
    p_a: float  # A (the first sample) better by more than the ROPE
    p_rope: float  # practically equivalent
    p_b: float  # B better by more than the ROPE


def _heaviside(a: np.ndarray, threshold: float) -> np.ndarray:
    return (a > threshold).astype(float) + 0.5 * (a == threshold)


def signed_rank(a, b, rope: float, n_samples: int = N_SAMPLES, seed: int = SEED, prior: float = PRIOR) -> Posterior:
    """Posterior probabilities for paired samples a, b (higher is better) with ROPE half-width `rope`."""
    d = np.concatenate([[0.0], np.asarray(b, dtype=float) - np.asarray(a, dtype=float)])
    sums = d[:, None] + d[None, :]
    below = _heaviside(-sums, 2 * rope)  # b - a below -rope: A better
    above = _heaviside(sums, 2 * rope)
    weights = np.ones(len(d))
    weights[0] = prior
    rng = np.random.default_rng(seed)
    wins = np.zeros(3)
    for start in range(0, n_samples, _CHUNK):
        w = rng.dirichlet(weights, min(_CHUNK, n_samples - start))
        left = np.sum((w @ below) * w, axis=1)
        right = np.sum((w @ above) * w, axis=1)
        regions = np.stack([left, 1 - left - right, right], axis=1)
        wins += np.bincount(np.argmax(regions, axis=1), minlength=3)
    p_a, p_rope, p_b = wins / n_samples
    return Posterior(float(p_a), float(p_rope), float(p_b))
