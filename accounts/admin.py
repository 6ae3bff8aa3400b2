"""Administrators give accounts their roles on the steward's pages (/steward/accounts/account/)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.contracts import Role
from accounts.models import Account
from accounts.services import account_assign_role


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin[Account]):
    list_display = ("user", "role", "issuer", "subject", "last_login_at")
    list_filter = ("role", "issuer")
    search_fields = ("subject", "user__last_name", "user__first_name")
    readonly_fields = ("user", "issuer", "subject", "created_at", "last_login_at")
    fields = (*readonly_fields, "role", "patient", "organization", "practitioner", "municipality")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # accounts are made by signing in

    def save_model(self, request: HttpRequest, obj: Account, form: Any, change: bool) -> None:
        account_assign_role(
            account=obj,
            role=Role(obj.role) if obj.role else None,
            patient=obj.patient,
            organization=obj.organization,
            practitioner=obj.practitioner,
            municipality=obj.municipality,
        )
