"""/auth/authorize: SMART standalone launch with the authorization code flow. The person signs in through the
platform's OpenID Connect login (django-oauth-toolkit's view requires it), sees the app and its scopes in plain
words on the consent screen, may untick scopes and choose how long, and approves or denies."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.forms import AllowForm
from oauth2_provider.views import AuthorizationView
from oauthlib.oauth2.rfc6749.errors import InvalidRequestError

from accounts.facade import signed_in_account
from consent.models import ClientRegistration
from consent.scopes import grant_of
from consent.smart.launch import DURATIONS, LaunchChoice, LaunchRefusedError, launch_plan
from consent.smart.wording import scope_in_words

DURATION_CHOICES = [("1h", "1 時間 / 1 hour"), ("30d", "30 日 / 30 days"), ("1y", "1 年 / 1 year")]


class LaunchForm(AllowForm):  # type: ignore[misc]  # django-oauth-toolkit has no type hints
    """django-oauth-toolkit's form (the request's parameters in hidden fields) with the person's choices: the
    scopes left ticked, and how long the authorisation lasts."""

    granted = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    duration = forms.ChoiceField(choices=DURATION_CHOICES, initial="1h")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        requested = str((self.data if self.is_bound else self.initial).get("scope") or "").split()
        self.fields["granted"].choices = [(scope, scope) for scope in requested]


class SmartAuthorizationView(AuthorizationView):  # type: ignore[misc]  # django-oauth-toolkit has no type hints
    template_name = "consent/authorize.html"
    form_class = LaunchForm
    launch_choice: LaunchChoice | None = None  # set by an approval on the consent screen, and only by one

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """The person always sees the consent screen: an app cannot skip it with approval_prompt=auto."""
        if "approval_prompt" in request.GET:
            parameters = request.GET.copy()
            del parameters["approval_prompt"]
            request.GET = parameters  # type: ignore[assignment]  # a mutable copy, read by django-oauth-toolkit
        response: HttpResponse = super().get(request, *args, **kwargs)
        return response

    def validate_authorization_request(self, request: HttpRequest) -> tuple[list[str], dict[str, Any]]:
        """SMART's own rules on top of OAuth's: `aud` names this FHIR server, and PKCE uses S256."""
        scopes, credentials = super().validate_authorization_request(request)
        problem = _launch_problem(request)
        if problem:
            error = InvalidRequestError(description=problem, state=credentials.get("state"))
            raise OAuthToolkitError(error=error, redirect_uri=credentials["redirect_uri"])
        return scopes, credentials

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)
        application = context.get("application")
        if application is None:  # a tampered form shown again: nothing to offer
            context["refused"] = "この認可の依頼は読めません / this authorisation request cannot be read"
            return context
        context["organization"] = ClientRegistration.objects.get(application=application).organization
        try:
            plan = launch_plan(account=signed_in_account(self.request.user), requested=list(context["scopes"]))
        except LaunchRefusedError as refused:
            context["refused"] = str(refused)
            context["back_to_app"] = _error_redirect(context, "the account cannot authorise these scopes")
            return context
        context["offered"] = [(scope, scope_in_words(scope)) for scope in plan.offered]
        context["pinned_patient"] = plan.patient
        return context

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        response: HttpResponse = super().render_to_response(context, **kwargs)
        if "refused" in context:
            response.status_code = 403
        return response

    def form_valid(self, form: LaunchForm) -> HttpResponse:
        """An approval goes ahead with the ticked scopes the account may authorise; anything else is a denial,
        which django-oauth-toolkit sends to the app as access_denied."""
        if form.cleaned_data.get("allow"):
            self.launch_choice = self._launch_choice(form)
            form.cleaned_data["allow"] = self.launch_choice is not None
        response: HttpResponse = super().form_valid(form)
        return response

    def _launch_choice(self, form: LaunchForm) -> LaunchChoice | None:
        """The person's approval, narrowed to what their account may authorise (the form's scope becomes the
        scopes granted); None when no data scope is left to grant."""
        account = signed_in_account(self.request.user)
        try:
            plan = launch_plan(account=account, requested=form.cleaned_data["scope"].split())
        except LaunchRefusedError:
            return None
        chosen = " ".join(scope for scope in plan.offered if scope in form.cleaned_data["granted"])
        if account is None or not grant_of(chosen).resources:
            return None
        form.cleaned_data["scope"] = chosen
        return LaunchChoice(
            user=self.request.user,
            account=account,
            lasts=DURATIONS[form.cleaned_data["duration"]],
            patient=plan.patient,
        )

    def create_authorization_response(
        self, request: HttpRequest, scopes: str, credentials: dict[str, Any], allow: bool
    ) -> tuple[str, dict[str, str], str, int]:
        if allow and self.launch_choice is not None:
            credentials["launch_choice"] = self.launch_choice
        return super().create_authorization_response(request, scopes, credentials, allow)  # type: ignore[no-any-return]


def fhir_base_url(request: HttpRequest) -> str:
    """This server's FHIR base, which an app names as `aud`: FHIR_BASE_URL when set (behind a proxy)."""
    configured = str(getattr(settings, "FHIR_BASE_URL", "") or "")
    return (configured or request.build_absolute_uri(f"/{settings.FHIR_BASE_PATH}")).rstrip("/")


def _launch_problem(request: HttpRequest) -> str:
    audience = request.GET.get("aud", "").rstrip("/")
    if audience != fhir_base_url(request):
        return f"wrong audience: aud must be this server's FHIR base URL {fhir_base_url(request)}"
    if request.GET.get("code_challenge_method") != "S256":
        return "PKCE with code_challenge_method S256 is required"
    return ""


def _error_redirect(context: dict[str, Any], description: str) -> str:
    """Where the refusal page sends the person back: the app's redirect URI with access_denied."""
    parameters = {"error": "access_denied", "error_description": description}
    if context.get("state"):
        parameters["state"] = context["state"]
    redirect_uri = str(context["redirect_uri"])
    return f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(parameters)}"
