"""RFM: quintile scores against stored cut points, and the named segment of each R/F pair.

Cut points are the upper bounds of quintiles 1..4 (computed in SQL with NTILE during a full
recomputation, see `compute.quintile_cuts`). Scores are then a vectorised lookup, so a full
run and an incremental run score a customer identically against the same cut points.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from crm.customers.choices import RfmSegment

# (R score, F score) -> segment. The widely used 10-segment R/F grid, with its bottom-left cell
# (R=1, F=1: long gone and bought once) split off as "lost". Every one of the 25 cells is named.
#
#        F=1             F=2              F=3              F=4          F=5
#  R=5   new             potential        potential        champions    champions
#  R=4   promising       potential        potential        loyal        loyal
#  R=3   about to sleep  about to sleep   need attention   loyal        loyal
#  R=2   hibernating     hibernating      at risk          at risk      can't lose
#  R=1   lost            hibernating      at risk          at risk      can't lose
SEGMENT_GRID: dict[int, tuple[RfmSegment, RfmSegment, RfmSegment, RfmSegment, RfmSegment]] = {
    5: (
        RfmSegment.NEW,
        RfmSegment.POTENTIAL_LOYALISTS,
        RfmSegment.POTENTIAL_LOYALISTS,
        RfmSegment.CHAMPIONS,
        RfmSegment.CHAMPIONS,
    ),
    4: (
        RfmSegment.PROMISING,
        RfmSegment.POTENTIAL_LOYALISTS,
        RfmSegment.POTENTIAL_LOYALISTS,
        RfmSegment.LOYAL,
        RfmSegment.LOYAL,
    ),
    3: (
        RfmSegment.ABOUT_TO_SLEEP,
        RfmSegment.ABOUT_TO_SLEEP,
        RfmSegment.NEED_ATTENTION,
        RfmSegment.LOYAL,
        RfmSegment.LOYAL,
    ),
    2: (RfmSegment.HIBERNATING, RfmSegment.HIBERNATING, RfmSegment.AT_RISK, RfmSegment.AT_RISK, RfmSegment.CANT_LOSE),
    1: (RfmSegment.LOST, RfmSegment.HIBERNATING, RfmSegment.AT_RISK, RfmSegment.AT_RISK, RfmSegment.CANT_LOSE),
}

_SEGMENT_CODES: list[str] = [str(s.value) for s in RfmSegment]
SEGMENT_CODES: tuple[str, ...] = tuple(_SEGMENT_CODES)
# 6x6 lookup table of indexes into _SEGMENT_CODES (row = R, column = F; index 0 unused).
_SEGMENT_TABLE = np.zeros((6, 6), dtype=np.int64)
for _r, _row in SEGMENT_GRID.items():
    for _f, _segment in enumerate(_row, start=1):
        _SEGMENT_TABLE[_r, _f] = _SEGMENT_CODES.index(str(_segment.value))


def segment_for(r_score: int, f_score: int) -> str:
    """The named segment of one customer's R and F scores (1..5 each)."""
    return str(SEGMENT_GRID[int(r_score)][int(f_score) - 1].value)


def segments_for(r_scores: NDArray[np.int64], f_scores: NDArray[np.int64]) -> list[str]:
    """Vectorised `segment_for` for whole arrays."""
    codes = np.asarray(_SEGMENT_CODES, dtype=object)
    return list(codes[_SEGMENT_TABLE[r_scores, f_scores]])


def segment_indexes(r_scores: NDArray[np.int64], f_scores: NDArray[np.int64]) -> NDArray[np.int64]:
    """Vectorised: index of each customer's segment in SEGMENT_CODES."""
    result: NDArray[np.int64] = _SEGMENT_TABLE[r_scores, f_scores]
    return result


def segment_codes(r_scores: NDArray[np.int64], f_scores: NDArray[np.int64]) -> NDArray[np.object_]:
    """Vectorised `segment_for` returning an object array of codes."""
    codes = np.asarray(_SEGMENT_CODES, dtype=object)
    result: NDArray[np.object_] = codes[_SEGMENT_TABLE[r_scores, f_scores]]
    return result


def score_ascending(values: NDArray[np.float64], cuts: Sequence[float]) -> NDArray[np.int64]:
    """1..5 where higher values score higher: 1 + number of cut points strictly below the value."""
    if not cuts:
        return np.full(values.shape, 3, dtype=np.int64)
    result: NDArray[np.int64] = 1 + np.searchsorted(np.asarray(cuts, dtype=float), values, side="left").astype(np.int64)
    return np.clip(result, 1, 5)


def score_recency(recency_days: NDArray[np.float64], cuts: Sequence[float]) -> NDArray[np.int64]:
    """1..5 where more recent (fewer days) scores higher."""
    result: NDArray[np.int64] = 6 - score_ascending(recency_days, cuts)
    return result
