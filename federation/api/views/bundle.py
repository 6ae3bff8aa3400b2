"""batch and transaction: a Bundle POSTed to the base URL."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from federation.api.http import base_url, prefer_return
from federation.api.routing import Interaction, InteractionView
from federation.api.views.access import request_access
from federation.storage.bundles import bundle_process


class BatchView(InteractionView):
    """One view for both: the Bundle's type decides, so one route serves batch and transaction."""

    interactions = (Interaction("transaction", "system"), Interaction("batch", "system"))

    def post(self, request: Request) -> Response:
        response_bundle = bundle_process(
            access=request_access(request),
            bundle=request.data,
            include_resources=prefer_return(request) == "representation" and "HTTP_PREFER" in request.META,
            base_url=base_url(request),
        )
        return Response(response_bundle, status=200)
