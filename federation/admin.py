"""The data steward's pages (Django admin): the review queue side by side, persons, merges and their undoing.

Every button calls a service of federation.identity.steward, so a decision made here is the same decision,
audited the same way, as one made from code.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from core.outcome import FhirError
from federation.identity.steward import person_merge, person_unmerge, review_link, review_reject
from federation.models import IdentityAction, IdentityDecision, MatchReview, Person, PersonRecord, Resource

STEWARD_PERMISSION = "federation.steward_identity"


def _summary(content: dict[str, Any] | None) -> dict[str, str]:
    """The fields a steward compares, as text."""
    content = content or {}
    names = {
        next((ext.get("valueCode") for ext in name.get("extension", []) if isinstance(ext, dict)), "") or "": name.get(
            "text", ""
        )
        for name in content.get("name", [])
        if isinstance(name, dict)
    }
    return {
        "漢字氏名": names.get("IDE", ""),
        "カナ氏名": names.get("SYL", ""),
        "生年月日": content.get("birthDate", ""),
        "性別": content.get("gender", ""),
        "住所": " / ".join(
            f"{address.get('postalCode', '')} {address.get('text', '')}".strip()
            for address in content.get("address", [])
            if isinstance(address, dict)
        ),
        "電話": " / ".join(
            str(telecom.get("value", "")) for telecom in content.get("telecom", []) if isinstance(telecom, dict)
        ),
        "識別子": " / ".join(
            f"{identifier.get('system', '')}|{identifier.get('value', '')}"
            for identifier in content.get("identifier", [])
            if isinstance(identifier, dict)
        ),
    }


def _actor(request: HttpRequest) -> str:
    return request.user.get_username() if request.user.is_authenticated else ""


def _require_steward(request: HttpRequest) -> None:
    if request.method != "POST" or not request.user.has_perm(STEWARD_PERMISSION):
        raise PermissionDenied


class StewardOnly:
    """Pages only a data steward sees; nothing is added, changed or deleted through the admin's own forms
    (every change is a steward service, audited)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return request.user.has_perm(STEWARD_PERMISSION)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(STEWARD_PERMISSION)


@admin.register(MatchReview)
class MatchReviewAdmin(StewardOnly, admin.ModelAdmin[MatchReview]):
    """The review queue: open possible matches, highest score first; each opens side by side."""

    list_display = ("id", "record_patient", "candidate", "score", "status", "created_at")
    list_filter = ("status",)
    ordering = ("-score",)
    change_form_template = "admin/federation/matchreview/compare.html"

    @admin.display(description="Record")
    def record_patient(self, review: MatchReview) -> str:
        return _summary(review.record.patient.content).get("漢字氏名") or str(review.record.patient)

    def get_urls(self) -> list[URLPattern]:
        return [
            path("<int:review_id>/decide/", self.admin_site.admin_view(self.decide), name="federation_review_decide"),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        review = get_object_or_404(MatchReview.objects.select_related("record__patient", "candidate"), pk=object_id)
        candidates = PersonRecord.objects.filter(person=review.candidate).select_related("patient")
        fields = _summary(None).keys()
        record = _summary(review.record.patient.content)
        others = [_summary(item.patient.content) for item in candidates]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Review {review.pk}",
            "opts": self.model._meta,
            "review": review,
            "rows": [(field, record[field], [other[field] for other in others]) for field in fields],
            "others": candidates,
            "explanation": review.explanation,
            "can_decide": review.status == "open" and request.user.has_perm(STEWARD_PERMISSION),
        }
        return TemplateResponse(request, self.change_form_template, context)

    def decide(self, request: HttpRequest, review_id: int) -> HttpResponse:
        _require_steward(request)
        action = request.POST.get("decision")
        reason = request.POST.get("reason", "")
        try:
            if action == "link":
                review_link(review_id=review_id, actor=_actor(request), reason=reason)
            elif action == "reject":
                review_reject(review_id=review_id, actor=_actor(request), reason=reason)
            else:
                raise PermissionDenied
        except FhirError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"Review {review_id}: {action}.")
        return HttpResponseRedirect(reverse("admin:federation_matchreview_changelist"))


@admin.register(Person)
class PersonAdmin(StewardOnly, admin.ModelAdmin[Person]):
    """Persons and their records; merge one person into another."""

    list_display = ("id", "name", "record_count", "merged_into", "created_at")
    search_fields = ("id",)
    change_form_template = "admin/federation/person/detail.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Person]:
        persons: QuerySet[Person] = super().get_queryset(request)
        golden = Resource.objects.filter(resource_type="Patient", logical_id=OuterRef("golden")).values("content")
        return persons.annotate(record_count=Count("records"), golden_content=Subquery(golden[:1]))

    @admin.display(description="Name")
    def name(self, person: Person) -> str:
        return _summary(getattr(person, "golden_content", None)).get("漢字氏名", "")

    @admin.display(description="Records")
    def record_count(self, person: Person) -> int:
        return int(getattr(person, "record_count", 0))

    def get_urls(self) -> list[URLPattern]:
        return [
            path("<int:person_id>/merge/", self.admin_site.admin_view(self.merge), name="federation_person_merge"),
            path("unmerge/<int:decision_id>/", self.admin_site.admin_view(self.unmerge), name="federation_unmerge"),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        person = get_object_or_404(Person, pk=object_id)
        golden = Resource.objects.filter(resource_type="Patient", logical_id=person.golden).first()
        records = PersonRecord.objects.filter(person=person).select_related("patient")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Person {person.pk}",
            "opts": self.model._meta,
            "person": person,
            "golden": _summary(golden.content if golden else None),
            "records": [(record, _summary(record.patient.content)) for record in records],
            "merges": IdentityDecision.objects.filter(action=IdentityAction.MERGE, person=person).order_by("-at"),
            "trail": IdentityDecision.objects.filter(person=person).order_by("-at")[:50],
            "can_decide": person.merged_into_id is None and request.user.has_perm(STEWARD_PERMISSION),
        }
        return TemplateResponse(request, self.change_form_template, context)

    def merge(self, request: HttpRequest, person_id: int) -> HttpResponse:
        _require_steward(request)
        try:
            survivor = int(request.POST.get("survivor", ""))
            person_merge(
                merged_id=person_id, survivor_id=survivor, actor=_actor(request), reason=request.POST.get("reason", "")
            )
        except ValueError:
            messages.error(request, "Give the number of the person to merge into.")
            return HttpResponseRedirect(reverse("admin:federation_person_change", args=[person_id]))
        except FhirError as error:
            messages.error(request, str(error))
            return HttpResponseRedirect(reverse("admin:federation_person_change", args=[person_id]))
        messages.success(request, f"Person {person_id} merged into person {survivor}.")
        return HttpResponseRedirect(reverse("admin:federation_person_change", args=[survivor]))

    def unmerge(self, request: HttpRequest, decision_id: int) -> HttpResponse:
        _require_steward(request)
        try:
            decision = person_unmerge(
                merge_decision_id=decision_id, actor=_actor(request), reason=request.POST.get("reason", "")
            )
        except FhirError as error:
            messages.error(request, str(error))
            return HttpResponseRedirect(reverse("admin:federation_person_changelist"))
        messages.success(request, f"Merge {decision_id} undone.")
        return HttpResponseRedirect(reverse("admin:federation_person_change", args=[decision.person_id]))
