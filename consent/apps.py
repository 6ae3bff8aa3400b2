from django.apps import AppConfig
from django.core.signals import request_finished, request_started


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consent and access"

    def ready(self) -> None:
        from consent.rules import request_began, request_ended

        request_started.connect(request_began, dispatch_uid="consent_rules_request_began")
        request_finished.connect(request_ended, dispatch_uid="consent_rules_request_ended")
