"""After an ingest command stored its records: link the Patients it wrote to persons, with a progress bar.

The commands link in their own process when they finish (`--no-link` leaves the queue to `identity_link` or a
worker); messages that arrive through push or MLLP are linked by the Celery task that processes them.
"""

from __future__ import annotations

from connectors.pipeline import IngestSummary
from core.progress import progress_counter, progress_end
from federation.facade import identity_link_all, identity_queue_size


def persons_link(summary: IngestSummary, *, show: bool) -> None:
    """Link every queued Patient; what it did goes into `summary`."""
    total = identity_queue_size()
    progress = progress_counter(total, unit="Patients linked") if show and total else None
    summary.persons = identity_link_all(progress=progress)
    if show and total:
        progress_end()
