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

Embeddings and bucket keys are stored, so every change to how they are
computed must keep them bit for bit: tests/seer/service/test_embedding.py
pins exact outputs.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import struct
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import compress
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
VALUE_WEIGHT = 0.1

# Features are hashed (CRC-32) and counted as UTF-8 bytes. The format words
# are counted like other words and their features dropped afterwards, which
# leaves the order of the other features unchanged.
_FORMAT_WORD_FEATURES = (b"word:File", b"word:function")

# `_ascii_features` reads ASCII text as bytes, which costs less than reading it
# as str. On ASCII text, the bytes methods and patterns below split lines,
# whitespace and words as the str methods and patterns do, except at these
# control characters. str.splitlines() also ends lines at \v, \f and
# \x1c-\x1e, and str.split() also splits at \x1c-\x1f, so text that contains
# one of them takes the str path.
_STR_ONLY_SEPARATORS = b"\x0b\x0c\x1c\x1d\x1e\x1f"
_WORD_CHARACTERS = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
_ASCII_WORD = re.compile(rb"\w+")
_ASCII_HEADER = re.compile(rb"(\S+?): ?(.*)")
# Separates features within a bytes string. No feature of ASCII text that
# takes the bytes path contains it, because it is one of the
# `_STR_ONLY_SEPARATORS`.
_FEATURE_SEPARATOR = b"\x1e"


def _word_translation() -> bytes:
    """Build the `bytes.translate` table that leaves only words and line breaks.

    Word characters and \\r, \\n map to themselves and every other byte maps
    to a space, except the `_STR_ONLY_SEPARATORS`, which map to
    `_FEATURE_SEPARATOR` so that one search detects them.
    """
    table = bytearray(b" " * 256)
    for byte in _WORD_CHARACTERS + b"\r\n":
        table[byte] = byte
    for byte in _STR_ONLY_SEPARATORS:
        table[byte] = _FEATURE_SEPARATOR[0]
    return bytes(table)


_WORD_TRANSLATION = _word_translation()


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


def _features(stacktrace: str) -> tuple[list[bytes], list[bytes]]:
    """Return every feature occurrence in order, and the header value words.

    Features are UTF-8 bytes with their prefix ("line:", "pair:", "word:",
    "type:"), and value words have none. Raises UnicodeEncodeError when a
    frame line or an exception type contains a lone surrogate.
    """
    if stacktrace.isascii():
        data = stacktrace.encode("ascii")
        word_text = data.translate(_WORD_TRANSLATION)
        if _FEATURE_SEPARATOR not in word_text:
            return _ascii_features(data, word_text)
    return _text_features(stacktrace)


def _ascii_features(data: bytes, word_text: bytes) -> tuple[list[bytes], list[bytes]]:
    """Return `_features` of ASCII text, with the words of each line read
    from `word_text`, its `_WORD_TRANSLATION`."""
    features: list[bytes] = []
    values: list[bytes] = []
    previous = b""

    # Per raw frame line: the normalised line, its line feature and its word
    # features. Stacktraces repeat lines (recursion, middleware chains), and a
    # repeated line needs only its pair feature built anew.
    frame_lines: dict[bytes, tuple[bytes, bytes, list[bytes]]] = {}
    # The translation keeps line breaks in place, so both split alike.
    lines = zip(data.splitlines(), word_text.splitlines(), strict=True)
    for raw_line, line_words in lines:
        known = frame_lines.get(raw_line)
        if known is not None:
            line, line_feature, word_features = known
        else:
            line = b" ".join(raw_line.split())
            if not line:
                continue
            # The raw line starts with whitespace exactly when normalising it
            # changed its first byte.
            if raw_line[0] == line[0]:
                header = _ASCII_HEADER.fullmatch(line)
                if header is not None:
                    previous = b"type:" + header[1]
                    features.append(previous)
                    values += _ASCII_WORD.findall(header[2])
                    continue

            line_feature = b"line:" + line
            # Joining the words and splitting them once is cheaper than
            # prefixing each word on its own.
            words = line_words.split()
            if words:
                joined = b"word:" + b"\x1eword:".join(words)
                word_features = joined.split(_FEATURE_SEPARATOR)
            else:
                word_features = []
            frame_lines[raw_line] = line, line_feature, word_features

        features.append(line_feature)
        features.append(b"pair:%b\n%b" % (previous, line))
        features += word_features
        previous = line
    return features, values


def _text_features(stacktrace: str) -> tuple[list[bytes], list[bytes]]:
    """Return `_features` of any text, reading it as str."""
    features: list[bytes] = []
    values: list[bytes] = []
    previous = b""
    for raw_line in stacktrace.splitlines():
        line = " ".join(raw_line.split())
        if not line:
            continue
        header = None if raw_line[:1].isspace() else _HEADER.fullmatch(line)
        if header is not None:
            exception_type, value = header.groups()
            previous = b"type:" + exception_type.encode("utf-8")
            features.append(previous)
            values += [word.encode("utf-8") for word in _WORD.findall(value)]
            continue
        data = line.encode("utf-8")
        features.append(b"line:" + data)
        features.append(b"pair:" + previous + b"\n" + data)
        features += [b"word:" + word.encode("utf-8") for word in _WORD.findall(line)]
        previous = data
    return features, values


def _feature_weight(count: int) -> float:
    """Return the weight of a feature seen `count` times, times `_SCALE`."""
    return (1.0 + math.log(count)) * _SCALE


def _value_weight(count: int) -> float:
    """Return the weight of a value word seen `count` times, times `_SCALE`."""
    return VALUE_WEIGHT * (1.0 + math.log(count)) * _SCALE


# Counts below this index the signed weight tables.
_TABLE_COUNTS = 256
# Bit 0x100 of a feature's CRC-32 gives its sign (set: +1).
_SIGN_BIT = 0x100


def _signed_weights(weight: Callable[[int], float]) -> list[float]:
    """Tabulate `weight`: index `count | sign bit` contains the signed weight."""
    weights = [0.0] + [weight(count) for count in range(1, _TABLE_COUNTS)]
    return [-value for value in weights] + weights


_FEATURE_WEIGHTS = _signed_weights(_feature_weight)
_VALUE_WEIGHTS = _signed_weights(_value_weight)


def _add_weights(
    sums: list[float],
    counts: Counter[bytes],
    table: list[float],
    weight: Callable[[int], float],
) -> None:
    """Add each counted feature's signed weight to its dimension of `sums`.

    `table` is `_signed_weights(weight)`. The additions happen in the order of
    `counts`, because floating-point sums depend on it.
    """
    crc32 = zlib.crc32
    if max(counts.values()) < _TABLE_COUNTS:
        for feature, count in counts.items():
            digest = crc32(feature)
            sums[digest % DIMENSIONS] += table[count | (digest & _SIGN_BIT)]
        return
    for feature, count in counts.items():
        digest = crc32(feature)
        value = weight(count)
        sums[digest % DIMENSIONS] += value if digest & _SIGN_BIT else -value


_ZERO_COMPONENTS = array("h", bytes(2 * DIMENSIONS))


def embed(stacktrace: str) -> Embedding:
    """Embed a stacktrace string as hashed weighted features.

    The vector is left unnormalised because cosine distance ignores length.
    Components are stored as int16 in units of `1 / _SCALE`, clamped to the
    int16 range. Raises UnicodeEncodeError when a frame line or an exception
    type contains a lone surrogate.
    """
    features, values = _features(stacktrace)
    counts = Counter(features)
    for feature in _FORMAT_WORD_FEATURES:
        counts.pop(feature, None)
    # The weights are scaled before they are summed: scaling by a power of
    # two is exact, so each sum equals the scaled sum of unscaled weights.
    sums = [0.0] * DIMENSIONS
    if counts:
        _add_weights(sums, counts, _FEATURE_WEIGHTS, _feature_weight)
    if values:
        value_counts = Counter(map(b"value:".__add__, values))
        _add_weights(sums, value_counts, _VALUE_WEIGHTS, _value_weight)
    if not counts and not values:
        # A string of blank lines still gets a non-zero vector.
        _add_weights(
            sums,
            Counter([b"raw:" + stacktrace.encode("utf-8")]),
            _FEATURE_WEIGHTS,
            _feature_weight,
        )

    # Most dimensions stay 0.0, so only the others are rounded and stored.
    rounded = list(map(round, filter(None, sums)))
    if rounded and (
        max(rounded) > _COMPONENT_LIMIT or min(rounded) < -_COMPONENT_LIMIT
    ):
        rounded = [
            max(-_COMPONENT_LIMIT, min(_COMPONENT_LIMIT, value)) for value in rounded
        ]
    components = array("h", _ZERO_COMPONENTS)
    for dimension, value in zip(
        compress(range(DIMENSIONS), sums), rounded, strict=True
    ):
        components[dimension] = value
    return Embedding(components, _norm(rounded))


def cosine_distance(left: Embedding, right: Embedding) -> float:
    """Return `1 - cos(angle)` between two embeddings, in [0, 2]."""
    if left.norm == 0.0 or right.norm == 0.0:
        return 1.0
    dot: int = sum(map(mul, left.components, right.components))
    distance = 1.0 - dot / (left.norm * right.norm)
    return min(2.0, max(0.0, distance))


def _hyperplane_entries() -> list[bytes]:
    """Return, per dimension, each hyperplane's entry: 1 for +1, 0 for -1.

    Raises RuntimeError if a hyperplane has the same entry in every
    dimension, which the bound of `_WIDE_LANES` rules out.
    """
    rng = random.Random(_HYPERPLANE_SEED)
    rows = [bytearray(HYPERPLANES) for _ in range(DIMENSIONS)]
    for plane in range(HYPERPLANES):
        for row in rows:
            if rng.random() < 0.5:
                row[plane] = 1
    for plane in range(HYPERPLANES):
        if sum(row[plane] for row in rows) in (0, DIMENSIONS):
            raise RuntimeError(f"hyperplane {plane} has one sign in every dimension")
    return [bytes(row) for row in rows]


def _lane_masks(entries: Sequence[bytes], lane_bytes: int) -> tuple[list[int], int]:
    """Return per dimension the hyperplane entries (+1 or -1) as signed lanes
    of `lane_bytes` bytes, hyperplane `j` in lane `j`, and the integer with 1
    in every lane."""
    lane_ones = bytearray(HYPERPLANES * lane_bytes)
    lane_ones[::lane_bytes] = b"\x01" * HYPERPLANES
    ones = int.from_bytes(lane_ones, "little")
    masks = []
    for row in entries:
        lanes = bytearray(HYPERPLANES * lane_bytes)
        lanes[::lane_bytes] = row
        # The +1 lanes minus the -1 lanes, which are `ones` minus the +1 lanes.
        masks.append(2 * int.from_bytes(lanes, "little") - ones)
    return masks, ones


# The components equal to +-_SCALE, from one feature of weight 1, are the
# most common ones. `sketch` sums their signs with unit masks, whose lanes are
# one byte and can contain sums in [-127, 127], so it takes at most
# `_UNIT_LANE_LIMIT` of them.
_UNIT_LANE_LIMIT = 127


@dataclass(frozen=True)
class _LaneLayout:
    """Hyperplane masks with one signed lane of `lane_bytes` bytes per plane.

    A lane has `bits = 8 * lane_bytes` bits. Summing `c[d] * masks[d]` over
    the dimensions puts the projection on hyperplane `j` in lane `j`.
    `offset` adds `2**(bits - 1) - 1` to every lane. Each lane then stays
    within [0, 2**bits), without a borrow from or a carry into its
    neighbours, while every projection is at most `2**(bits - 1) - 1` in
    absolute value, as it is when the sum of absolute components is below
    `2**(bits - 1)`. The top bit of a lane is then set exactly when its
    projection is positive.
    """

    lane_bytes: int
    masks: list[int]
    # Per dimension, the mask and the unit mask.
    mask_pairs: list[tuple[int, int]]
    offset: int
    # `offset` minus what the unit lanes' own offset adds once they are widened.
    unit_offset: int

    @classmethod
    def build(
        cls, entries: Sequence[bytes], lane_bytes: int, unit_masks: list[int]
    ) -> _LaneLayout:
        masks, ones = _lane_masks(entries, lane_bytes)
        mask_pairs = list(zip(masks, unit_masks, strict=True))
        offset = ((1 << (8 * lane_bytes - 1)) - 1) * ones
        unit_offset = offset - _SCALE * _UNIT_LANE_LIMIT * ones
        return cls(lane_bytes, masks, mask_pairs, offset, unit_offset)

    def sign_bytes(self, components: array[int], values: list[int]) -> bytes:
        """Return one byte per hyperplane, the last hyperplane first, whose top
        bit is set when the projection is positive. `values` are the non-zero
        components, in order."""
        if len(values) > _UNIT_LANE_LIMIT:
            masks = compress(self.masks, components)
            accumulator: int = sum(map(mul, values, masks), self.offset)
        else:
            accumulator = self.unit_offset
            units = _UNIT_OFFSET
            mask_pairs = compress(self.mask_pairs, components)
            # A unit mask is 1/2 or 1/3 as long as a mask of this layout, so
            # adding it costs that fraction and saves a multiplication, which
            # costs about as much as an addition.
            for value, (mask, unit_mask) in zip(values, mask_pairs, strict=True):
                if value == _SCALE:
                    units += unit_mask
                elif value == -_SCALE:
                    units -= unit_mask
                else:
                    accumulator += value * mask
            # Widen each unit lane into the low byte of a lane of this layout.
            widened = bytearray(HYPERPLANES * self.lane_bytes)
            widened[self.lane_bytes - 1 :: self.lane_bytes] = units.to_bytes(
                HYPERPLANES, "big"
            )
            accumulator += _SCALE * int.from_bytes(widened, "big")
        lanes = accumulator.to_bytes(HYPERPLANES * self.lane_bytes, "big")
        return lanes[:: self.lane_bytes]


_ENTRIES = _hyperplane_entries()
_UNIT_MASKS, _UNIT_ONES = _lane_masks(_ENTRIES, 1)
_UNIT_OFFSET = _UNIT_LANE_LIMIT * _UNIT_ONES
# 16-bit lanes take embeddings whose absolute components sum to less than
# 2**15, as those of the first 2,500 strings of bench/seer_embedding.py do
# (all below 11,000). 24-bit lanes take every projection of int16
# components. The sum of their absolute values is at most 256 * 32768 = 2**23
# and reaches it only if every component is -32768. A projection is then
# -2**23 only on a hyperplane of one sign, which `_hyperplane_entries` rules
# out.
_NARROW_LANES = _LaneLayout.build(_ENTRIES, 2, _UNIT_MASKS)
_NARROW_LIMIT = 1 << 15
_WIDE_LANES = _LaneLayout.build(_ENTRIES, 3, _UNIT_MASKS)
del _ENTRIES
# Maps a lane's top byte to the ASCII digit of its sign bit.
_SIGN_DIGITS = bytes(0x31 if byte & 0x80 else 0x30 for byte in range(256))
_BAND_MASK = (1 << BAND_BITS) - 1


def sketch(embedding: Embedding) -> list[int]:
    """Return the `BANDS` band signatures, each a `BAND_BITS`-bit integer.

    Bit `j` is set when the projection on hyperplane `j` is positive. All
    projections are summed at once in the lanes of one integer (see
    `_LaneLayout`).
    """
    components = embedding.components
    values = list(filter(None, components))
    narrow = sum(map(abs, values)) < _NARROW_LIMIT
    layout = _NARROW_LANES if narrow else _WIDE_LANES
    digits = layout.sign_bytes(components, values).translate(_SIGN_DIGITS)
    # The first digit is the last hyperplane's, so bit j is hyperplane j.
    bits = int(digits, 2)
    return [(bits >> (band * BAND_BITS)) & _BAND_MASK for band in range(BANDS)]


# Copying this blake2b state (8-byte digest) is cheaper than creating one per key.
_KEY_HASH = hashlib.blake2b(digest_size=8)
_KEY_DIGESTS = struct.Struct(f">{BANDS}q")


def bucket_keys(project_id: int, embedding: Embedding) -> list[int]:
    """Return the record's `BANDS` bucket keys as signed 64-bit integers.

    A key is a hash of (project id, band index, band signature), so two
    records share a key only within one project and one band.
    """
    prefix = f"{project_id}:".encode()
    digests = []
    for band, signature in enumerate(sketch(embedding)):
        key_hash = _KEY_HASH.copy()
        key_hash.update(b"%b%d:%d" % (prefix, band, signature))
        digests.append(key_hash.digest())
    return list(_KEY_DIGESTS.unpack(b"".join(digests)))
