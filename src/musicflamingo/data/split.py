"""The held-out split, by track content hash.

A track is held out when its hash falls below the threshold, so the split of
a track never changes as the corpus grows. With tiny corpora, at least
`min_heldout` tracks (the lowest hashes) are held out.
"""

from __future__ import annotations


def hash_fraction(track_id: str) -> float:
    return int(track_id[:12], 16) / float(16**12)


def heldout_ids(track_ids: list[str], fraction: float, min_heldout: int = 1) -> set[str]:
    held = {t for t in track_ids if hash_fraction(t) < fraction}
    if len(held) < min_heldout and len(track_ids) > min_heldout:
        held = set(sorted(track_ids, key=hash_fraction)[:min_heldout])
    return held
