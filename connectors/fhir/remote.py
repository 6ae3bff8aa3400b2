"""A remote FHIR server as pull mode talks to it, over the standard library's HTTP client.

Every request has a timeout; the bearer token goes to the base URL's server (a next link or a status URL
elsewhere does not get it, nor does a redirect: a storage bucket's signed URL needs none), and to the
export's files only when the manifest says they require it; only http and https URLs are followed, whatever
a server's links say. Every failure becomes a `PullError` of one line, named by the URL without its query (a query
may hold personal search values or a signed download's credentials).
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit, urlunsplit
from urllib.request import Request, urlopen

from connectors.fhir.mapping import outcome_text

REQUEST_TIMEOUT = 60.0  # seconds, for connecting and for each read of the answer
MAX_JSON_BYTES = 16 << 20  # a status answer, a manifest or an error answer; data is streamed instead
FHIR_JSON = "application/fhir+json"
FHIR_NDJSON = "application/fhir+ndjson"


class PullError(Exception):
    """Why a pull cannot go on, in one line."""


class AnswerError(PullError):
    """The server answered with an HTTP error status; `headers` lets a caller honour Retry-After."""

    def __init__(self, text: str, status: int, headers: Message) -> None:
        super().__init__(text)
        self.status = status
        self.headers = headers


def url_shown(url: str) -> str:
    """The URL without its query and fragment, for messages and origins."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def base_url_check(url: str) -> str:
    """The FHIR base URL without a trailing slash; PullError unless it is an absolute http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise PullError(f"--base-url '{url}' is not an http or https URL of a FHIR server's base (no query)")
    return url.rstrip("/")


@dataclass(frozen=True)
class Remote:
    """The server at `base_url`; `token` is its bearer token."""

    base_url: str
    token: str | None = None

    def open(
        self,
        url: str,
        *,
        accept: str,
        headers: dict[str, str] | None = None,
        method: str = "GET",
        token: bool | None = None,
    ) -> http.client.HTTPResponse:
        """The answer to a request, its body not read yet; AnswerError for an HTTP error status, PullError when
        the server cannot be reached or does not answer in time. The token is sent when `token` is True, or
        when it is None and `url` is on the base URL's server."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise PullError(f"will not fetch '{url_shown(url)}': only http and https URLs are followed")
        request = Request(url, method=method, headers={"Accept": accept, **(headers or {})})  # noqa: S310 - checked
        if self.token and (token or (token is None and _origin(url) == _origin(self.base_url))):
            request.add_unredirected_header("Authorization", f"Bearer {self.token}")
        try:
            response: http.client.HTTPResponse = urlopen(request, timeout=REQUEST_TIMEOUT)  # noqa: S310 - checked
        except HTTPError as error:
            raise AnswerError(_error_text(url, error), error.code, error.headers) from None
        except (URLError, OSError, http.client.HTTPException) as error:
            raise PullError(broken_text(url, error)) from None
        return response


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def broken_text(url: str, error: BaseException) -> str:
    """One line for a request that got no (whole) answer."""
    reason = error.reason if isinstance(error, URLError) else error
    if isinstance(reason, TimeoutError):
        return f"{url_shown(url)} did not answer within {REQUEST_TIMEOUT:g} s"
    text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    return f"cannot reach {url_shown(url)}: {text}"


def _error_text(url: str, error: HTTPError) -> str:
    """`<url> answered 404 Not Found`, with the OperationOutcome's issues when the server sent one."""
    text = f"{url_shown(url)} answered {error.code} {error.reason}"
    try:
        body = json.loads(error.read(MAX_JSON_BYTES))
    except (ValueError, OSError, http.client.HTTPException):
        return text
    finally:
        error.close()
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        return f"{text}: {outcome_text(body)}"
    return text


def media_type(response: http.client.HTTPResponse) -> str:
    """The answer's media type, lower case, without parameters; empty when the server did not say."""
    return response.headers.get("Content-Type", "").partition(";")[0].strip().lower()


def is_json_type(media: str) -> bool:
    return media in ("application/json", "application/json+fhir") or media.endswith("+json")


def json_check(response: http.client.HTTPResponse, url: str) -> None:
    """PullError when the answer says it is not JSON (an HTML login or error page, most often)."""
    media = media_type(response)
    if media and not is_json_type(media):
        raise PullError(f"{url_shown(url)} answered {media}, not FHIR JSON: is the URL a FHIR server's base?")


def json_read(response: http.client.HTTPResponse, url: str) -> Any:
    """The answer's JSON value (a status answer or a manifest, which are small)."""
    json_check(response, url)
    try:
        raw = response.read(MAX_JSON_BYTES + 1)
    except (OSError, http.client.HTTPException) as error:
        raise PullError(broken_text(url, error)) from None
    if len(raw) > MAX_JSON_BYTES:
        raise PullError(f"{url_shown(url)} answered more than {MAX_JSON_BYTES:,} bytes where a short JSON was due")
    try:
        return json.loads(raw)
    except ValueError as error:
        raise PullError(f"{url_shown(url)} answered something that is not JSON ({error})") from None
