"""The learned, calibrated candidate ranker (features, model, drug-class tables, name similarity).

Serving::

    from kedrec_agent.ranking import load_ranker

    probabilities = load_ranker().rank(evidence.candidates, hits_by_drug, kg)

``kedrec train ranker`` trains the shipped artifact (``ranker.json``, see
``RANKER_CARD.md``); :func:`candidate_features` is the one feature function training and
serving share.
"""

from kedrec_agent.ranking.features import (
    FEATURE_DOCS,
    FEATURE_NAMES,
    FEATURES_VERSION,
    candidate_features,
    feature_dict,
)
from kedrec_agent.ranking.model import PACKAGED_RANKER, Ranker, load_ranker
from kedrec_agent.ranking.semantic import NameSimilarity
from kedrec_agent.ranking.tables import DrugTables

__all__ = [
    "FEATURES_VERSION",
    "FEATURE_DOCS",
    "FEATURE_NAMES",
    "PACKAGED_RANKER",
    "DrugTables",
    "NameSimilarity",
    "Ranker",
    "candidate_features",
    "feature_dict",
    "load_ranker",
]
