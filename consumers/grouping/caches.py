"""The memos that make grouping of recurring frames and messages cheap.

Grouping remembers results per distinct frame, frame child, function name
and message, because production events share most of their frames. All of
them are pure functions of their keys, so clearing them changes speed only.
Benchmarks clear them to measure events whose frames were not seen before.
"""

from __future__ import annotations

from consumers.grouping import frame_strategy, prepared_frames
from consumers.grouping.enhancements import Enhancements
from consumers.grouping.frame_children import location_children
from consumers.grouping.function_names import trim_function_name
from consumers.grouping.parameterization import normalize_message_for_grouping


def clear_caches(*enhancements: Enhancements) -> None:
    """Forget every remembered frame, name and message result.

    Rule sets keep their own classifier memo: pass those to clear as well.
    """
    prepared_frames.clear_remembered_frames()
    location_children.cache_clear()
    frame_strategy.module_component.cache_clear()
    frame_strategy.filename_component.cache_clear()
    frame_strategy.context_line_component.cache_clear()
    trim_function_name.cache_clear()
    normalize_message_for_grouping.cache_clear()
    for rules in enhancements:
        rules.clear_classified_frames()
