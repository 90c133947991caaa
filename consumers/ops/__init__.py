"""Operations: scheduling runs, offset resets, DLQ replay, lag and metrics."""
