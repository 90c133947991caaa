"""Deterministic stacktrace embeddings and the sketch that buckets them.

Seer embeds a stacktrace string with a sentence-transformer model and finds
neighbours with pgvector. This local stand-in needs no model. The embedding
of a stacktrace string is a feature-hashed vector (`DIMENSIONS` signed
components, stored as int16) of these features, each weighted
`1 + ln(count)`:

- per frame line: the whole line and its words, without the words the
  string format itself adds ("File", "function");
- each pair of consecutive frame lines, so frame order matters;
- per exception header `Type: value`: the type, and the words of the value
  at `VALUE_WEIGHT`, so the same frames under another message stay within
  Seer's 0.01 grouping distance while another frame moves them further.

Neighbour search must not scan a project's records, so every record carries
`BANDS` bucket keys. The keys come from a SimHash sketch: the signs of the
vector's projections on `BANDS * BAND_BITS` fixed random hyperplanes, cut into
bands of `BAND_BITS` bits and salted with the project id. Two vectors at angle
`a` agree on one sign with probability `1 - a / pi`. So two records within
cosine distance 0.01 (an angle of 8.1 degrees) share at least one bucket key
with probability about 0.99. Records 0.1 apart (25.8 degrees) share one with
probability about 0.26, and unrelated records almost never. A missed pair is
a false negative: the record is stored and no neighbour is reported, as if
the model had placed it further away.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import zlib
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from operator import mul

DIMENSIONS = 256
BANDS = 12
BAND_BITS = 24
HYPERPLANES = BANDS * BAND_BITS

# Fixed so that every process maps a stacktrace to the same buckets.
_HYPERPLANE_SEED = 0x5EE2
_COMPONENT_LIMIT = 32767
# Fixed-point scale of the stored components: one unit is 1/64 of a weight.
_SCALE = 64
_WORD = re.compile(r"\w+")
# An exception header line: a type without spaces, a colon, the value.
_HEADER = re.compile(r"(\S+?): ?(.*)")
_FORMAT_WORDS = frozenset({"File", "function"})
VALUE_WEIGHT = 0.1

# Each hyperplane's projection is accumulated in its own 26-bit lane of one
# Python integer, so one big-integer multiply-add handles all hyperplanes.
_LANE_BITS = 26
_LANE_GUARD = 1 << (_LANE_BITS - 1)


@dataclass(frozen=True)
class Embedding:
    """A stacktrace's hashed feature weights, with their Euclidean norm."""

    components: array[int]
    norm: float

    def to_bytes(self) -> bytes:
        return self.components.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Embedding:
        components = array("h")
        components.frombytes(data)
        return cls(components, _norm(components))


def _norm(components: Sequence[int]) -> float:
    return math.sqrt(sum(map(mul, components, components)))


def _features(stacktrace: str) -> dict[str, float]:
    """Return the weighted features of a stacktrace string."""
    counts: Counter[str] = Counter()
    value_counts: Counter[str] = Counter()
    previous_line = ""
    for raw_line in stacktrace.splitlines():
        line = " ".join(raw_line.split())
        if not line:
            continue
        header = None if raw_line[:1].isspace() else _HEADER.fullmatch(line)
        if header is not None:
            exception_type, value = header.groups()
            counts[f"type:{exception_type}"] += 1
            value_counts.update(_WORD.findall(value))
            previous_line = f"type:{exception_type}"
            continue
        words = [word for word in _WORD.findall(line) if word not in _FORMAT_WORDS]
        counts[f"line:{line}"] += 1
        counts[f"pair:{previous_line}\n{line}"] += 1
        counts.update(f"word:{word}" for word in words)
        previous_line = line
    weights = {feature: 1.0 + math.log(count) for feature, count in counts.items()}
    for word, count in value_counts.items():
        weights[f"value:{word}"] = VALUE_WEIGHT * (1.0 + math.log(count))
    if not weights:
        # A string of blank lines still gets a non-zero vector.
        weights[f"raw:{stacktrace}"] = 1.0
    return weights


def embed(stacktrace: str) -> Embedding:
    """Embed a stacktrace string as hashed weighted features.

    The vector is left unnormalised because cosine distance ignores length.
    Components are stored as int16 in units of `1 / _SCALE`, clamped to the
    int16 range.
    """
    sums = [0.0] * DIMENSIONS
    for feature, weight in _features(stacktrace).items():
        digest = zlib.crc32(feature.encode("utf-8"))
        sign = 1.0 if digest & 0x100 else -1.0
        sums[digest % DIMENSIONS] += sign * weight
    scaled = [round(value * _SCALE) for value in sums]
    if max(scaled) > _COMPONENT_LIMIT or min(scaled) < -_COMPONENT_LIMIT:
        scaled = [max(-_COMPONENT_LIMIT, min(_COMPONENT_LIMIT, v)) for v in scaled]
    components = array("h", scaled)
    return Embedding(components, _norm(components))


def cosine_distance(left: Embedding, right: Embedding) -> float:
    """Return `1 - cos(angle)` between two embeddings, in [0, 2]."""
    if left.norm == 0.0 or right.norm == 0.0:
        return 1.0
    dot: int = sum(map(mul, left.components, right.components))
    distance = 1.0 - dot / (left.norm * right.norm)
    return min(2.0, max(0.0, distance))


def _build_lane_masks() -> tuple[list[int], list[int]]:
    """Per dimension, the lane masks of the hyperplanes with entry +1 and -1.

    A lane contains 2 where the hyperplane's entry matches the mask's sign, so
    adding `|c| * mask` adds `|c| + c * entry` to every lane.
    """
    rng = random.Random(_HYPERPLANE_SEED)
    positive = [0] * DIMENSIONS
    negative = [0] * DIMENSIONS
    for plane in range(HYPERPLANES):
        shift = plane * _LANE_BITS
        for dimension in range(DIMENSIONS):
            if rng.random() < 0.5:
                positive[dimension] |= 2 << shift
            else:
                negative[dimension] |= 2 << shift
    return positive, negative


_POSITIVE_MASKS, _NEGATIVE_MASKS = _build_lane_masks()
_LANE_ONES = sum(1 << (plane * _LANE_BITS) for plane in range(HYPERPLANES))


def sketch(embedding: Embedding) -> list[int]:
    """Return the `BANDS` band signatures, each a `BAND_BITS`-bit integer.

    Bit `j` is set when the projection on hyperplane `j` is positive. Lane `j`
    of the accumulator ends at `total + projection_j`, where `total` is the sum
    of absolute components, and the lane's top bit after adding
    `guard - total - 1` is set exactly when the projection is positive.
    """
    accumulator = 0
    total = 0
    for dimension, value in enumerate(embedding.components):
        if value > 0:
            accumulator += value * _POSITIVE_MASKS[dimension]
            total += value
        elif value < 0:
            accumulator -= value * _NEGATIVE_MASKS[dimension]
            total -= value
    # Clamped components keep total at most DIMENSIONS * 32767 < 2**23 and
    # every lane below 2 * total < 2**24, under the guard bit 2**25, so no
    # lane borrows from its neighbour.
    shifted = (accumulator + (_LANE_GUARD - total - 1) * _LANE_ONES) >> (_LANE_BITS - 1)
    width = HYPERPLANES * _LANE_BITS
    lanes = format(shifted, "b").zfill(width)[::-1]
    bits = lanes[0::_LANE_BITS][:HYPERPLANES]
    return [
        int(bits[band * BAND_BITS : (band + 1) * BAND_BITS][::-1], 2)
        for band in range(BANDS)
    ]


def bucket_keys(project_id: int, embedding: Embedding) -> list[int]:
    """Return the record's `BANDS` bucket keys as signed 64-bit integers.

    A key is a hash of (project id, band index, band signature), so two
    records share a key only within one project and one band.
    """
    keys = []
    for band, signature in enumerate(sketch(embedding)):
        digest = hashlib.blake2b(
            f"{project_id}:{band}:{signature}".encode(), digest_size=8
        ).digest()
        keys.append(int.from_bytes(digest, "big", signed=True))
    return keys
