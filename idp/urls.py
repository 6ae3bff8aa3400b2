"""The provider's pages: sign-in, django-oauth-toolkit's endpoints under /o/, and a health check."""

from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("login/", LoginView.as_view(template_name="idp/login.html"), name="login"),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("health", health),
]
