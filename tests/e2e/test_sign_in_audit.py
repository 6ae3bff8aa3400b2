"""Sign-ins through the real demo OpenID provider land in the audit trail, a person's in their own trail."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from accounts.contracts import Role
from accounts.models import Account
from accounts.services import account_assign_role
from consent.models import AuditRecord
from tests.e2e.test_sign_in import sign_in


def test_each_sign_in_is_an_audit_event_naming_the_account_and_the_persons_record(sign_in_servers):
    sign_in(sign_in_servers, "hanako")
    account = Account.objects.get()
    account_assign_role(account=account, role=Role.PERSON, patient="Patient/demo-1")
    sign_in(sign_in_servers, "hanako")

    first, second = AuditRecord.objects.filter(category="login").order_by("id")
    subject = f"{sign_in_servers.provider}|hanako"
    assert (first.subtype, first.status, first.subject, first.role, first.patients) == ("login", 200, subject, "", [])
    assert (second.status, second.role, second.patients) == (200, "person", ["demo-1"])
    assert second.network == "127.0.0.1"
    out = StringIO()
    call_command("audit_verify", stdout=out, stderr=StringIO())
    assert out.getvalue().startswith("audit trail intact: 2 entries")
