"""Join a person's tracks across a longer absence (they left the picture, or stayed hidden past the tracker's memory)
when it is clearly them: the clothes' colours of the later track match the earlier one's, better than any other
candidate on either side by a clear margin.

Offline, after tracking the whole clip: a track that ends may continue as one that starts at most `max_gap` frames
later (never one that overlaps it in time). Pairs are accepted best first, each track continuing at most one and
continued by at most one, so chains form for someone who leaves several times.
"""

import numpy as np

from .appearance import similarity

MIN_SIMILARITY = 0.7  # about 5 Lab units apart on average: the same clothes under the same light
MARGIN = 0.25  # ... and this much more alike than the next candidate for either track


def rejoin(spans: dict[int, tuple[int, int]], colours: dict[int, np.ndarray], max_gap: int,
           min_similarity: float = MIN_SIMILARITY, margin: float = MARGIN) -> dict[int, int]:
    """{track id: (first frame, last frame)} and {track id: colours (6,)} -> {track id: id of the first track of
    its person}, for every id in `spans`."""
    ids = sorted(spans)
    first = np.array([spans[i][0] for i in ids])
    last = np.array([spans[i][1] for i in ids])
    table = np.array([colours.get(i, np.full(6, np.nan)) for i in ids], dtype=np.float64).reshape(len(ids), -1)
    gap = first[None, :] - last[:, None]  # [a, b]: frames from the end of a to the start of b
    sim = np.where((gap > 0) & (gap <= max_gap), similarity(table, table), 0.0)
    successor: dict[int, int] = {}
    has_predecessor: set[int] = set()
    for a, b in zip(*np.unravel_index(np.argsort(-sim, axis=None), sim.shape), strict=True):
        if sim[a, b] < min_similarity:
            break
        if a in successor or b in has_predecessor:
            continue
        rivals = np.concatenate([np.delete(sim[a], b), np.delete(sim[:, b], a)])
        if sim[a, b] - rivals.max(initial=0.0) >= margin:
            successor[a] = b
            has_predecessor.add(b)
    root = {}
    for k in np.argsort(first, kind="stable"):
        if k not in has_predecessor:
            chain = k
            while chain is not None:
                root[ids[chain]] = ids[k]
                chain = successor.get(chain)
    return root
