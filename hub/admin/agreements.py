"""Roaming agreements in the admin (DESIGN §6b): list them by status and whether they are in
force, find them by party ("NL*CPO"), add or change them through the same rules as the CLI
(`hub.services.agreements.lifecycle`), and suspend, resume or end them, which applies their
effects at once (the eMSP is sent the CPO's data, each side the other's ClientInfo)."""

from collections.abc import Callable
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from hub.admin.actions import BULK_ACTION_LIMIT
from hub.admin.mixins import party_q
from hub.admin.settlement import FeeTermInline
from hub.models.agreements import AgreementScope, RoamingAgreement
from hub.services.agreements.apply import AgreementEffects
from hub.services.agreements.lifecycle import (
    AgreementTerms,
    agreement_add,
    agreement_end,
    agreement_resume,
    agreement_suspend,
    agreement_update,
    parse_list,
    parse_party,
    terms_validate,
)

# The lifecycle's error keys that are fields of the form (the others go on top of the form).
FORM_FIELDS = ("cpo", "emsp", "valid_from", "valid_to", "scopes", "location_ids", "note")


class RoamingAgreementForm(forms.ModelForm):
    """The agreement's terms, as staff write them; validated by the lifecycle's rules."""

    cpo = forms.CharField(max_length=7, help_text="The CPO party, e.g. NL*CPO")
    emsp = forms.CharField(max_length=7, label="eMSP", help_text="The eMSP party, e.g. DE*EMS")
    scopes = forms.MultipleChoiceField(
        choices=AgreementScope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=list(AgreementScope.values),
    )
    location_ids = forms.CharField(
        required=False,
        label="Locations",
        help_text="Comma-separated ids of the CPO's stored locations; empty: all of them",
    )

    class Meta:
        model = RoamingAgreement
        fields = ("valid_from", "valid_to", "note")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        agreement = self.instance
        if agreement.pk:
            self.initial.update(
                cpo=f"{agreement.cpo_country_code}*{agreement.cpo_party_id}",
                emsp=f"{agreement.emsp_country_code}*{agreement.emsp_party_id}",
                scopes=list(agreement.scopes),
                location_ids=", ".join(agreement.location_ids),
            )
        self.terms: AgreementTerms | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            terms = AgreementTerms(
                cpo=parse_party(data["cpo"], "cpo"),
                emsp=parse_party(data["emsp"], "emsp"),
                valid_from=data["valid_from"],
                valid_to=data.get("valid_to"),
                scopes=tuple(data.get("scopes") or ()),
                location_ids=tuple(parse_list(data.get("location_ids") or "")),
                note=data.get("note") or "",
            )
            # The service validates again, locked, when it saves; this shows errors on the form.
            from_service = terms_validate(terms, exclude_pk=self.instance.pk)
        except ValidationError as error:
            for name, messages_ in error.message_dict.items():
                self.add_error(name if name in FORM_FIELDS else None, messages_)
            return data
        self.terms = from_service
        return data


@admin.register(RoamingAgreement)
class RoamingAgreementAdmin(admin.ModelAdmin):
    form = RoamingAgreementForm
    list_display = (
        "pk",
        "cpo_party",
        "emsp_party",
        "valid_from",
        "valid_to",
        "status",
        "in_force",
        "scopes_text",
    )
    list_display_links = ("pk", "cpo_party")
    list_filter = ("status", "in_force")
    search_fields = ("note",)
    search_help_text = "A party (NL*CPO, either side) or words of the note"
    readonly_fields = ("status", "in_force", "created_at", "updated_at")
    actions = ("suspend_selected", "resume_selected", "end_selected")
    inlines: ClassVar = [FeeTermInline]  # the fee terms on the agreement's page (FeeTerm.clean)
    ordering = ("-pk",)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[RoamingAgreement], search_term: str
    ) -> tuple[QuerySet[RoamingAgreement], bool]:
        parties = party_q(search_term, ("cpo_", "emsp_"), upper_keys=True)
        if parties is not None:
            return queryset.filter(parties), False
        return super().get_search_results(request, queryset, search_term)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # An agreement is ended, not deleted: its history stays for settlement and audit.
        return False

    @admin.display(description="CPO", ordering="cpo_country_code")
    def cpo_party(self, agreement: RoamingAgreement) -> str:
        return f"{agreement.cpo_country_code}*{agreement.cpo_party_id}"

    @admin.display(description="eMSP", ordering="emsp_country_code")
    def emsp_party(self, agreement: RoamingAgreement) -> str:
        return f"{agreement.emsp_country_code}*{agreement.emsp_party_id}"

    @admin.display(description="scopes")
    def scopes_text(self, agreement: RoamingAgreement) -> str:
        text = ", ".join(agreement.scopes)
        if agreement.location_ids:
            text += f" (locations {', '.join(agreement.location_ids)})"
        return text

    def save_model(
        self, request: HttpRequest, obj: RoamingAgreement, form: Any, change: bool
    ) -> None:
        """Store through the lifecycle service (validation, effects) instead of `obj.save()`."""
        terms = form.terms
        assert terms is not None  # clean() succeeded, or the admin would not save
        if change:
            saved, effects = agreement_update(obj.pk, terms)
        else:
            saved, effects = agreement_add(terms)
        obj.pk = saved.pk
        obj.refresh_from_db()
        self.message_user(request, f"Agreement {saved.pk}: {_effects_text(effects)}")

    def _run(
        self,
        request: HttpRequest,
        queryset: QuerySet[RoamingAgreement],
        service: Callable[[int], tuple[RoamingAgreement, AgreementEffects]],
        verb: str,
    ) -> None:
        done, refused = [], []
        for agreement in queryset.order_by("pk")[:BULK_ACTION_LIMIT]:
            try:
                changed, effects = service(agreement.pk)
            except ValidationError as error:
                refused.append("; ".join(error.messages))
                continue
            done.append(f"{changed.pk} ({_effects_text(effects)})")
            self.log_change(request, changed, f"{verb} (roaming agreement)")
        if done:
            self.message_user(request, f"{verb}: {', '.join(done)}", messages.SUCCESS)
        for reason in refused:
            self.message_user(request, f"Not {verb.lower()}: {reason}", messages.WARNING)

    @admin.action(description="Suspend (stop the flow, tell both sides)", permissions=["change"])
    def suspend_selected(self, request: HttpRequest, queryset: QuerySet[RoamingAgreement]) -> None:
        self._run(request, queryset, agreement_suspend, "Suspended")

    @admin.action(description="Resume (restart the flow, re-send data)", permissions=["change"])
    def resume_selected(self, request: HttpRequest, queryset: QuerySet[RoamingAgreement]) -> None:
        self._run(request, queryset, agreement_resume, "Resumed")

    @admin.action(
        description="End for good (stop the flow, tell both sides)", permissions=["change"]
    )
    def end_selected(self, request: HttpRequest, queryset: QuerySet[RoamingAgreement]) -> None:
        self._run(request, queryset, agreement_end, "Ended")


def _effects_text(effects: AgreementEffects) -> str:
    if effects.change == "unchanged":
        return "no change in force"
    return f"{effects.change}, {effects.deliveries} push(es) queued"
