"""Stacktrace embeddings, cosine distance and the bucket sketch."""

from __future__ import annotations

import random
import zlib
from array import array
from collections.abc import Callable, Sequence

import pytest

from consumers.seer.service import embedding as module
from consumers.seer.service.embedding import (
    BAND_BITS,
    BANDS,
    DIMENSIONS,
    Embedding,
    bucket_keys,
    cosine_distance,
    embed,
    sketch,
)

StacktraceFactory = Callable[..., str]


def hyperplanes() -> list[list[int]]:
    """Return the seeded hyperplanes as rows of +1 and -1, computed the slow way."""
    rng = random.Random(module._HYPERPLANE_SEED)
    return [
        [1 if rng.random() < 0.5 else -1 for _ in range(DIMENSIONS)]
        for _ in range(BANDS * BAND_BITS)
    ]


def slow_sketch(planes: list[list[int]], components: Sequence[int]) -> list[int]:
    """Return the band signatures from exact projections, one plane at a time."""
    bits = [
        1 if sum(p * c for p, c in zip(plane, components, strict=True)) > 0 else 0
        for plane in planes
    ]
    return [
        sum(bits[band * BAND_BITS + i] << i for i in range(BAND_BITS))
        for band in range(BANDS)
    ]


def test_embed_is_deterministic(make_stacktrace: StacktraceFactory) -> None:
    trace = make_stacktrace("alpha")
    assert embed(trace) == embed(trace)
    assert len(embed(trace).components) == DIMENSIONS


def test_embedding_round_trips_bytes(make_stacktrace: StacktraceFactory) -> None:
    embedding = embed(make_stacktrace("alpha"))
    restored = Embedding.from_bytes(embedding.to_bytes())
    assert restored == embedding
    assert len(embedding.to_bytes()) == 2 * DIMENSIONS


def test_identical_distance_is_zero(make_stacktrace: StacktraceFactory) -> None:
    embedding = embed(make_stacktrace("alpha"))
    assert cosine_distance(embedding, embedding) == 0.0


def test_other_message_is_within_threshold(
    make_stacktrace: StacktraceFactory,
) -> None:
    trace = make_stacktrace("alpha")
    frames = trace.partition("\n")[2]
    other = f"alphaError: another message 42\n{frames}"
    distance = cosine_distance(embed(trace), embed(other))
    assert 0.0 < distance <= 0.01


def test_changed_frame_is_beyond_threshold(
    make_stacktrace: StacktraceFactory,
) -> None:
    trace = make_stacktrace("alpha")
    other = trace.replace("function alpha_3", "function beta_3")
    assert cosine_distance(embed(trace), embed(other)) > 0.01


def test_different_traces_are_far(make_stacktrace: StacktraceFactory) -> None:
    distance = cosine_distance(
        embed(make_stacktrace("alpha")), embed(make_stacktrace("omega"))
    )
    assert distance > 0.1


def test_frame_order_changes_embedding() -> None:
    forward = 'File "a.py", function f\nFile "b.py", function g'
    backward = 'File "b.py", function g\nFile "a.py", function f'
    assert cosine_distance(embed(forward), embed(backward)) > 0.0


def test_punctuation_only_trace_is_nonzero() -> None:
    assert embed("!!! ???").norm > 0.0


def test_sketch_matches_hyperplane_signs() -> None:
    planes = hyperplanes()
    text_rng = random.Random(7)
    for _ in range(50):
        words = [f"w{text_rng.randint(0, 40)}" for _ in range(text_rng.randint(1, 200))]
        embedding = embed(" ".join(words))
        assert sketch(embedding) == slow_sketch(planes, embedding.components)


def _components_near_narrow_limit(total: int) -> list[int]:
    """Return components of mixed signs whose absolute values sum to `total`."""
    components = [0] * DIMENSIONS
    for index in range(DIMENSIONS):
        share = min(total, 300)
        components[index] = share if index % 3 else -share
        total -= share
    return components


@pytest.mark.parametrize(
    "components",
    [
        [-32768] * DIMENSIONS,
        [32767] * DIMENSIONS,
        [32767 if index % 2 else -32768 for index in range(DIMENSIONS)],
        [0] * DIMENSIONS,
        [0] * (DIMENSIONS - 1) + [-1],
        # As many +-64 components as the unit lanes take, and one more.
        [64] * 127 + [0] * 129,
        [-64] * 127 + [0] * 129,
        [64] * 128 + [0] * 128,
        # More non-zero components than the unit lanes take, mostly +-64.
        [64 if index % 3 else -64 for index in range(200)] + [7] * 56,
        # The sum of absolute components just below and at 2**15, where the
        # sketch switches from 16-bit to 24-bit lanes.
        _components_near_narrow_limit(32767),
        _components_near_narrow_limit(32768),
    ],
    ids=[
        "all-min",
        "all-max",
        "alternating-extremes",
        "zero",
        "one-negative",
        "unit-lane-limit",
        "negative-unit-lane-limit",
        "above-unit-lane-limit",
        "many-units",
        "below-narrow-limit",
        "at-narrow-limit",
    ],
)
def test_sketch_exact_for_extreme_components(components: list[int]) -> None:
    embedding = Embedding.from_bytes(array("h", components).tobytes())
    assert sketch(embedding) == slow_sketch(hyperplanes(), components)


def test_near_duplicates_share_bucket(make_stacktrace: StacktraceFactory) -> None:
    # Lengthening one line of a long trace lands near the 0.01 threshold, the
    # hardest case for the sketch: about 0.99 of such pairs should collide.
    rng = random.Random(3)
    near = shared = 0
    for index in range(300):
        lines = make_stacktrace(f"t{index}", frames=rng.randint(20, 40)).split("\n")
        edited = list(lines)
        edited[rng.randrange(1, len(lines))] += " extra"
        original, changed = embed("\n".join(lines)), embed("\n".join(edited))
        if cosine_distance(original, changed) > 0.01:
            continue
        near += 1
        if set(bucket_keys(1, original)) & set(bucket_keys(1, changed)):
            shared += 1
    assert near >= 50
    assert shared >= 0.95 * near


def test_bucket_keys_salted_by_project(make_stacktrace: StacktraceFactory) -> None:
    embedding = embed(make_stacktrace("alpha"))
    assert len(bucket_keys(1, embedding)) == BANDS
    assert not set(bucket_keys(1, embedding)) & set(bucket_keys(2, embedding))


def test_unrelated_traces_rarely_collide() -> None:
    rng = random.Random(11)
    traces = [
        " ".join(f"word{rng.randint(0, 10_000)}" for _ in range(60)) for _ in range(100)
    ]
    keys = [set(bucket_keys(1, embed(trace))) for trace in traces]
    collisions = sum(
        1 for i in range(100) for j in range(i + 1, 100) if keys[i] & keys[j]
    )
    # Orthogonal vectors share one of 12 24-bit bands with probability
    # 12 / 2**24, so none of the 4950 pairs is expected to collide.
    assert collisions <= 2


def _same_bucket_words(dimension: int, count: int) -> list[str]:
    """Return `count` words whose features all add +1 to one dimension."""
    words: list[str] = []
    index = 0
    while len(words) < count:
        word = f"w{index}"
        digest = zlib.crc32(f"word:{word}".encode())
        if digest % DIMENSIONS == dimension and digest & 0x100:
            words.append(word)
        index += 1
    return words


# Outputs of the documented algorithm: the crc32 of the components as decimal
# text, the norm and the bucket keys of project 1. Embeddings and bucket keys
# are stored, so a change that alters any of them must fail here.
PINNED_OUTPUTS = [
    (
        "seer-format",
        "\n".join(
            ["alphaError: something about alpha failed"]
            + [
                line
                for index in range(12)
                for line in (
                    f'  File "app/alpha/module_{index}.py", function alpha_{index}',
                    f"    result = compute_alpha_{index}(value, other_{index})",
                )
            ]
        ),
        0xE3E878FC,
        720.5921176366003,
        [
            5092323465155683988,
            6045408085596738075,
            7498262645699744087,
            -8873429925919518253,
            1664046535723051732,
            9032334974395268444,
            8297614153168263723,
            -4518942633269719758,
            -4311372902046792838,
            2500811098670420302,
            -4809838702723495402,
            -6985747830269557863,
        ],
    ),
    (
        "chained-crlf-tabs",
        "LookupError: checkout aborted\r\n"
        '  File "shop/checkout.py", function checkout\r\n'
        "\tprice_lookup(depth)\r\n\r\n"
        "RuntimeError: price lookup failed\n"
        '  File "shop/prices.py", function price_lookup\n'
        "    raise RuntimeError('price lookup failed') from error\n"
        '  File "shop/prices.py", function price_lookup\n'
        "    raise RuntimeError('price lookup failed') from error\n"
        "ValueError: invalid literal for int() with base 10: '12,50'",
        0x260D1DDD,
        499.8919883334799,
        [
            -6263893908393120588,
            4456116423073297625,
            7119908085287209421,
            -1784404240147049953,
            4523300350344339288,
            -2292015502114877513,
            -8923981609383426952,
            -3840761823302118527,
            -6861174667787392067,
            -8157604743924381631,
            9175308950587222519,
            -8285701433150834493,
        ],
    ),
    (
        "unicode-form-feed",
        "ValueError: café 🎉 naïve\n"
        '  File "módulo.py", function función\n'
        "    raise ValueError('é')\n"
        '\x0c  File "b.py", function g',
        0x08D2B486,
        246.7549391602932,
        [
            -4086905297518286989,
            5350929923596470184,
            2499475257018302973,
            4932605682427742945,
            -555336629722982675,
            -3928914654885628034,
            -6720327473057913386,
            -1511682185464584572,
            -1725693674087564999,
            -3478834757666350175,
            8188140783569673657,
            8311363217377170366,
        ],
    ),
    (
        "blank-lines",
        "\n \n\t\n",
        0xB8DA02A1,
        64.0,
        [
            -3552341438314109367,
            -9174805482423841867,
            4652520429458871879,
            1027860938344159086,
            -8636202680663438434,
            -2793867096300991216,
            -7251931616138701626,
            -7474668480019243857,
            1342892641728615580,
            1616943123623217238,
            631198691191829078,
            -4630726574463172946,
        ],
    ),
    (
        "clamped",
        None,
        0x799CCC02,
        32767.125003576373,
        [
            7517708908106854813,
            -6817700275991460489,
            3181447532398593387,
            -6698815132324052776,
            4681235756478517095,
            6514904614786033722,
            250744504732825784,
            -6767185669504225082,
            -3620586934427149514,
            -8981001742671854257,
            -198520027774112598,
            -6188647535774037535,
        ],
    ),
]


@pytest.mark.parametrize(
    ("text", "checksum", "norm", "keys"),
    [case[1:] for case in PINNED_OUTPUTS],
    ids=[case[0] for case in PINNED_OUTPUTS],
)
def test_embedding_outputs_are_pinned(
    text: str | None, checksum: int, norm: float, keys: list[int]
) -> None:
    if text is None:
        # 600 features of weight 1 in dimension 0 clamp it at 32767.
        text = " ".join(_same_bucket_words(0, 600))
    embedding = embed(text)
    components = ",".join(map(str, embedding.components))
    assert zlib.crc32(components.encode()) == checksum
    assert embedding.norm == norm
    assert bucket_keys(1, embedding) == keys


@pytest.mark.parametrize(
    ("text", "same_as"),
    [
        ("a b\x0bc d", "a b\nc d"),
        ("a b\x0cc d", "a b\nc d"),
        ("a b\x1cc d", "a b\nc d"),
        ("a b\x1dc d", "a b\nc d"),
        ("a b\x1ec d", "a b\nc d"),
        ("a b\x1fc d", "a b c d"),
        ("  a\x1f: b", "  a : b"),
    ],
)
def test_control_characters_split_as_str(text: str, same_as: str) -> None:
    # str.splitlines() ends lines and str.split() splits at these characters,
    # where the bytes methods of the ASCII path do not.
    assert embed(text) == embed(same_as)


def test_ascii_path_matches_text_path() -> None:
    rng = random.Random(5)
    alphabet = [*"abcXYZ019_ :\t\r\n\"',.()=<>-", "File", "function", "E:"]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        data = text.encode("ascii")
        word_text = data.translate(module._WORD_TRANSLATION)
        assert module._ascii_features(data, word_text) == module._text_features(text)
