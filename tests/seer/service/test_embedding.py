"""Stacktrace embeddings, cosine distance and the bucket sketch."""

from __future__ import annotations

import random
from collections.abc import Callable

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
    # Recompute the sketch the slow way from the same seeded hyperplanes.
    from consumers.seer.service import embedding as module

    rng = random.Random(module._HYPERPLANE_SEED)
    planes = [
        [1 if rng.random() < 0.5 else -1 for _ in range(DIMENSIONS)]
        for _ in range(BANDS * BAND_BITS)
    ]
    text_rng = random.Random(7)
    for _ in range(50):
        words = [f"w{text_rng.randint(0, 40)}" for _ in range(text_rng.randint(1, 200))]
        embedding = embed(" ".join(words))
        bits = [
            1
            if sum(p * c for p, c in zip(plane, embedding.components, strict=True)) > 0
            else 0
            for plane in planes
        ]
        expected = [
            sum(bits[band * BAND_BITS + i] << i for i in range(BAND_BITS))
            for band in range(BANDS)
        ]
        assert sketch(embedding) == expected


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
