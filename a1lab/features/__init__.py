"""The leakage-free feature engine shared by the batch stage and the live loop."""

from a1lab.features.build import build_features, replay
from a1lab.features.market import market_features
from a1lab.features.registry import FeatureSpec, all_specs, feature_set, registry_table
from a1lab.features.selection import (
    SelectionConfig,
    chosen,
    elo_trajectories,
    rank_for_protocol,
    select_features,
    top_correlations,
)
from a1lab.features.state import FeatureState

__all__ = [
    "FeatureSpec", "FeatureState", "all_specs", "build_features", "feature_set",
    "market_features", "registry_table", "replay", "SelectionConfig", "select_features",
    "elo_trajectories", "top_correlations", "rank_for_protocol", "chosen",
]
