"""The CLI progress bar: a bar with a share when the total is known, a count while the work is still listed."""

from __future__ import annotations

from io import StringIO

from core.progress import progress_show


def test_a_known_total_draws_a_bar_with_the_share_done():
    out = StringIO()
    progress_show(3, 12, unit="files", stream=out)
    assert out.getvalue() == "\r[#######-----------------------] 3/12 files (25%)"


def test_a_total_still_being_listed_shows_the_count_done_so_far():
    out = StringIO()
    progress_show(40, None, unit="files", stream=out)
    assert out.getvalue() == "\r40 files done, more still being listed"
