from __future__ import annotations

import pytest

from consumers.grouping.memo import GenerationalMemo


def test_remembers_and_forgets_on_clear() -> None:
    memo: GenerationalMemo[str, int] = GenerationalMemo(4)
    memo.put("a", 1)
    assert memo.get("a") == 1
    assert memo.get("b") is None
    memo.clear()
    assert memo.get("a") is None
    assert len(memo) == 0


def test_holds_at_most_two_generations() -> None:
    memo: GenerationalMemo[int, int] = GenerationalMemo(3)
    for key in range(100):
        memo.put(key, key)
        assert len(memo) <= 6
    # The newest entries are still there, the oldest are gone.
    assert memo.get(99) == 99
    assert memo.get(0) is None


def test_entry_used_once_per_generation_is_kept() -> None:
    memo: GenerationalMemo[str, int] = GenerationalMemo(3)
    memo.put("hot", 0)
    for key in range(30):
        memo.put(f"cold-{key}", key)
        assert memo.get("hot") == 0
    assert memo.get("cold-0") is None


def test_unused_entry_is_dropped_after_two_generations() -> None:
    memo: GenerationalMemo[str, int] = GenerationalMemo(2)
    memo.put("once", 1)
    for key in range(4):
        memo.put(f"other-{key}", key)
    assert memo.get("once") is None


def test_unhashable_key_raises_type_error() -> None:
    memo: GenerationalMemo[object, int] = GenerationalMemo(2)
    with pytest.raises(TypeError):
        memo.get(["a list"])


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        GenerationalMemo(0)
