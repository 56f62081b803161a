"""Clinical instruments: pure scoring functions with no I/O and no storage."""

from alstrial.scoring.alsfrs import ALSFRS_R_DOMAINS, ALSFRS_R_ITEMS, AlsfrsRScore, score_alsfrs_r

__all__ = ["ALSFRS_R_DOMAINS", "ALSFRS_R_ITEMS", "AlsfrsRScore", "score_alsfrs_r"]
