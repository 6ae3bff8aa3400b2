"""A small OpenID Connect provider for development, tests and `make demo`: the stand-in for Keycloak.

It is a separate Django project (its own settings, its own SQLite database under IDP_DATA_DIR) built on
django-oauth-toolkit, run as its own process with `python -m idp serve`, with seeded demo accounts. The
platform never imports it: it talks to it over HTTP as it would to any provider.
"""
