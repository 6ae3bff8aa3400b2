"""Nothing personal reaches the application's logs: names, numbers, addresses and search parameters are
masked by the filter every handler of the settings carries."""

from __future__ import annotations

import io
import logging

import pytest

from core.log_masking import MASK, MaskPersonalData, masked


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        ("GET /fhir/Patient?name=やまだ&birthdate=1941-04-02 failed", "GET /fhir/Patient?", ["やまだ", "1941"]),
        ("no match for 山田 花子 at 静岡県綱木市本町一丁目", "no match for", ["山田", "花子", "静岡県"]),
        ("insured 06123456:記号1:番号42 refused", "refused", ["06123456", "記号"]),
        ("call 0547-11-2233 or +81-547-11-2233", "call", ["0547-11-2233", "547-11-2233"]),
        ("mail hanako@example.jp bounced", "bounced", ["hanako@example.jp"]),
        ("ｶﾅ ヤマダ ﾊﾅｺ in half width", "in half width", ["ｶﾅ", "ヤマダ"]),
    ],
)
def test_personal_data_is_masked_and_the_rest_kept(text, kept, gone):
    result = masked(text)

    assert kept in result
    assert MASK in result
    assert not any(value in result for value in gone)


def test_a_record_is_masked_after_its_arguments_are_merged_and_with_its_traceback():
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(MaskPersonalData())
    logger = logging.getLogger("tests.masking")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError("patient 0012345678 山田")
        except ValueError:
            logger.exception("could not store %s born %s", "佐藤 正雄", "19580327")
    finally:
        logger.removeHandler(handler)

    written = out.getvalue()
    assert "could not store" in written
    assert "ValueError" in written
    for value in ("佐藤", "19580327", "0012345678", "山田"):
        assert value not in written


def test_the_settings_put_the_filter_on_every_handler():
    handlers = logging.getLogger().handlers
    configured = [handler for handler in handlers if handler.get_name() == "console"]

    assert configured
    assert all(any(isinstance(f, MaskPersonalData) for f in handler.filters) for handler in configured)
