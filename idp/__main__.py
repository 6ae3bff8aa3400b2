"""`python -m idp serve --port 8001 --redirect-uri URL`: migrate, seed the demo accounts, serve on loopback.

The client secret and the demo password come from the environment (OIDC_RP_CLIENT_SECRET, IDP_DEMO_PASSWORD);
the defaults only make `make demo` work out of the box on a developer's machine.
"""

from __future__ import annotations

import argparse
import os
import sys

import django
from django.core.management import call_command

DEFAULT_CLIENT_ID = "tsunagi-platform"
DEFAULT_SECRET = "tsunagi-demo-client-secret"  # noqa: S105 - published demo value, overridden by the environment
DEFAULT_PASSWORD = "tsunagi-demo"  # noqa: S105 - published demo value, overridden by the environment


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m idp", description="Tsunagi's demo OpenID provider")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="migrate, seed and serve")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8001)
    serve.add_argument("--redirect-uri", action="append", required=True, help="the platform's OIDC callback")
    arguments = parser.parse_args(argv)

    os.environ["DJANGO_SETTINGS_MODULE"] = "idp.settings"  # never the platform's, whatever the shell says
    django.setup()
    from idp.seed import seed

    call_command("migrate", verbosity=0)
    seed(
        password=os.environ.get("IDP_DEMO_PASSWORD", DEFAULT_PASSWORD),
        client_id=os.environ.get("OIDC_RP_CLIENT_ID", DEFAULT_CLIENT_ID),
        client_secret=os.environ.get("OIDC_RP_CLIENT_SECRET", DEFAULT_SECRET),
        redirect_uris=arguments.redirect_uri,
    )
    print(f"Demo OpenID provider at http://{arguments.host}:{arguments.port}/o", flush=True)
    call_command("runserver", f"{arguments.host}:{arguments.port}", use_reloader=False, skip_checks=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
