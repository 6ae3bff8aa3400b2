"""SMART scopes in plain words for the consent screen and the person's list of apps (Japanese, then English)."""

from __future__ import annotations

from typing import Any

from oauth2_provider.scopes import BaseScopes

from consent.scopes import Interaction, ScopeContext, ScopeError, resource_scope

WHOSE = {  # (Japanese, English with {} for the type)
    ScopeContext.PATIENT: ("あなたの", "your {}"),
    ScopeContext.USER: ("職務で見られる", "{} your work lets you see"),
    ScopeContext.SYSTEM: ("この基盤の", "this platform's {}"),
}
DOING = [  # taken greedily, so read-and-search reads as one phrase
    ({Interaction.READ, Interaction.SEARCH}, "読む・検索する", "read and search"),
    ({Interaction.READ}, "読む", "read"),
    ({Interaction.SEARCH}, "検索する", "search"),
    ({Interaction.CREATE}, "作る", "create"),
    ({Interaction.UPDATE}, "変更する", "change"),
    ({Interaction.DELETE}, "削除する", "delete"),
]
OTHERS = {
    "launch/patient": "あなたの記録を選んで開く / open your own record",
    "offline_access": "あなたが使っていない間も、選んだ期間まで使い続ける / keep working while you are away, "
    "until the period you choose ends",
    "openid": "あなたが誰かを知る / know who you are",
    "fhirUser": "あなたのアカウントの記録を知る / know your account's record",
}


def scope_in_words(scope: str) -> str:
    """`patient/Observation.rs` -> "あなたの Observation を読む・検索する / read and search your Observation"."""
    try:
        parsed = resource_scope(scope)
    except ScopeError:
        parsed = None
    if parsed is None:
        return OTHERS.get(scope, scope)
    what_ja, what_en = (
        (parsed.resource_type, parsed.resource_type)
        if parsed.resource_type
        else ("すべての記録", "records of every type")
    )
    if parsed.narrowed_by:
        narrowing = "&".join(f"{name}={value}" for name, value in parsed.narrowed_by)
        what_ja, what_en = f"{what_ja} ({narrowing})", f"{what_en} ({narrowing})"
    left, doing_ja, doing_en = set(parsed.interactions), [], []
    for letters, ja, en in DOING:
        if letters <= left:
            doing_ja.append(ja)
            doing_en.append(en)
            left -= letters
    whose_ja, whose_en = WHOSE[parsed.context]
    return f"{whose_ja} {what_ja} を{'・'.join(doing_ja)} / {', '.join(doing_en)} {whose_en.format(what_en)}"


class ScopeWords(dict[str, str]):
    """Every scope has words, so django-oauth-toolkit's consent view can describe any SMART scope it is given."""

    def __missing__(self, scope: str) -> str:
        return scope_in_words(scope)


class SmartScopes(BaseScopes):  # type: ignore[misc]  # django-oauth-toolkit has no type hints
    """django-oauth-toolkit's scopes backend: SMART scopes are a grammar, not a list, so which scopes an app may
    ask for is the validator's business (its registration) and this only says what each means."""

    def get_all_scopes(self) -> dict[str, str]:
        return ScopeWords()

    def get_available_scopes(self, *args: Any, **kwargs: Any) -> list[str]:
        return []

    def get_default_scopes(self, *args: Any, **kwargs: Any) -> list[str]:
        return []
