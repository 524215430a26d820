"""The repository index: blob id -> parsed summary, under ``<git common dir>/astm/index/``.

``refresh`` brings it up to a commit, parsing only blobs it has not seen; ``candidates``
ranks files for an intent from it (routing without PATHS); ``summaries`` reads what it
holds for given paths. See docs/views.md.
"""

from __future__ import annotations

from astm.index.indexer import RefreshReport, refresh
from astm.index.read import summaries
from astm.index.route import Candidate, candidates
from astm.index.summary import Entry, Summary, summarize

__all__ = [
    "Candidate",
    "Entry",
    "RefreshReport",
    "Summary",
    "candidates",
    "refresh",
    "summaries",
    "summarize",
]
