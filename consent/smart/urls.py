"""The authorisation server's endpoints under /auth/ (django-oauth-toolkit's views, SMART's validator)."""

from django.urls import path
from oauth2_provider import views

app_name = "smart"

urlpatterns = [
    path("token", views.TokenView.as_view(), name="token"),
    path("revoke", views.RevokeTokenView.as_view(), name="revoke"),
    path("introspect", views.IntrospectTokenView.as_view(), name="introspect"),
]
