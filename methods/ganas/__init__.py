"""GA-NAS, Changiz Rezaei et al. 2021, "Generative Adversarial Neural Architecture Search" (IJCAI),
and its maximum-likelihood ablation. See README.md for the design and how the settings were chosen.

Torch is imported when a search is built, not when the registry is read, so listing methods stays fast.
"""

from __future__ import annotations

from typing import Any

from methods.ganas.config import GanasConfig, GanasMleConfig, ganas_config_for, mle_config_for
from suite.api import Method, MethodEntry, SearchContext


def _build_ganas(config: GanasConfig, context: SearchContext[Any]) -> Method[Any]:
    from methods.ganas.search import GaNas

    return GaNas(config, context)


def _build_mle(config: GanasMleConfig, context: SearchContext[Any]) -> Method[Any]:
    from methods.ganas.search import GaNasMle

    return GaNasMle(config, context)


ENTRY = MethodEntry(
    "ganas", GanasConfig, _build_ganas,
    "GA-NAS: generator fitted to the top-k cells adversarially (pairwise GNN discriminator, PPO)",
    config_for=ganas_config_for,
    # 2: batched teacher forcing, one encoder call per batch (float sums reordered); 3: NB101 cells
    # decoded in one joint decision per node (nb101_decoder="per-node"; "per-edge" is version 2's)
    version=3,
    uses_predictor=True,  # --predictor: G draws pool_factor x n_eval cells, the predictor picks n_eval
)
MLE_ENTRY = MethodEntry(
    "ganas-mle", GanasMleConfig, _build_mle,
    "GA-NAS ablation: the same generator fitted to the top-k cells by maximum likelihood",
    config_for=mle_config_for,
    version=3,  # 2: the same speed-ups as ganas; 3: the same NB101 decoder as ganas
    uses_predictor=True,
)

__all__ = ["ENTRY", "MLE_ENTRY", "GanasConfig", "GanasMleConfig"]
