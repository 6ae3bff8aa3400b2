"""The authorisation server's endpoints under /auth/ (django-oauth-toolkit's views, SMART's validator and
consent screen)."""

from django.urls import path
from oauth2_provider import views

from consent.smart.authorize import SmartAuthorizationView
from consent.smart.introspection import SmartIntrospectTokenView

app_name = "smart"

urlpatterns = [
    path("authorize", SmartAuthorizationView.as_view(), name="authorize"),
    path("token", views.TokenView.as_view(), name="token"),
    path("revoke", views.RevokeTokenView.as_view(), name="revoke"),
    path("introspect", SmartIntrospectTokenView.as_view(), name="introspect"),
]
