"""The next step of a chain once a project is done or skipped."""

from __future__ import annotations

from consumers.messages import ProjectBatch


def next_project_batch(batch: ProjectBatch) -> ProjectBatch | None:
    """The first batch of the next project of the chain, or None at its end.

    Inside a cohort the next project is the next id in the cohort. In worker
    mode, after the last project of a cohort, the message requests the
    worker's next cohort (`project_id` null, `last_project_id` advanced).
    """
    if batch.cohort is not None and batch.cohort_index + 1 < len(batch.cohort):
        index = batch.cohort_index + 1
        return batch.replace(
            project_id=batch.cohort[index], cohort_index=index, cursor=None, attempt=0
        )
    if batch.is_worker_mode:
        done = list(batch.cohort or ())
        if batch.project_id is not None:
            done.append(batch.project_id)
        last = max(done) if done else batch.last_project_id
        return batch.replace(
            project_id=None,
            cohort=None,
            cohort_index=0,
            cursor=None,
            last_project_id=last,
            attempt=0,
        )
    return None
