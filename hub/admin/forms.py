"""Forms behind the registry's admin pages (hub/admin/platforms.py).

They only validate what staff type; every registry write goes through
`hub.services.registry.credentials` so that the admin can never leave a platform
half-registered.
"""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from hub.models import PlatformRole
from hub.ocpi.exceptions import validation_message
from hub.ocpi.tokens import TOKEN_MAX_LENGTH, is_valid_token
from hub.schemas.common import BusinessDetailsSerializer
from hub.services.registry.parties import PartyKey, parse_party_spec


class PartiesField(forms.CharField):
    """Parties as staff type them, `NL-ABC:CPO`, one per line or comma-separated."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3, "cols": 40}))
        super().__init__(**kwargs)

    def clean(self, value: Any) -> list[PartyKey]:  # type: ignore[override]
        text = super().clean(value) or ""
        specs = [part for part in text.replace(",", "\n").splitlines() if part.strip()]
        try:
            return list(dict.fromkeys(parse_party_spec(spec) for spec in specs))
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


_PARTIES_HELP = (
    "Optional: the parties this connection is for, as COUNTRY-PARTY:ROLE (e.g. NL-ABC:CPO), one "
    "per line. Credentials claiming any other party are then refused. Left empty, the parties "
    "of the first registration are accepted and fixed; later additions wait for approval."
)


class InviteForm(forms.Form):
    """Create a platform and issue its Token A (the partner will register with the hub)."""

    name = forms.CharField(
        max_length=100,
        help_text="How the hub's staff will recognise this partner; its roles arrive with its "
        "credentials.",
    )
    parties = PartiesField(help_text=_PARTIES_HELP)


class ConnectForm(forms.Form):
    """Register with a partner that issued a Token A to the hub (hub-initiated)."""

    versions_url = forms.URLField(
        label="Partner's versions URL",
        max_length=255,
        assume_scheme="https",
        help_text="The partner's OCPI versions endpoint, e.g. https://partner.example/ocpi/versions",
    )
    # Never echoed back: a failed attempt re-renders the form without the token, so the secret
    # is not written into the page (PasswordInput drops the value by default).
    token_a = forms.CharField(
        label="Token A",
        max_length=TOKEN_MAX_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="The token the partner handed over for the hub's first calls.",
    )
    name = forms.CharField(
        max_length=100,
        required=False,
        help_text="Optional; defaults to the versions URL.",
    )
    parties = PartiesField(help_text=_PARTIES_HELP)

    def clean_token_a(self) -> str:
        """Refuse what 2.2.1 Credentials.token cannot be before any partner is called."""
        token: str = self.cleaned_data["token_a"]
        if not is_valid_token(token):
            raise ValidationError("A token is 1 to 64 printable ASCII characters, no spaces.")
        return token


class BusinessDetailsForm(forms.ModelForm):
    """A role's business details as staff may correct them: still a valid OCPI BusinessDetails,
    because the hub hands them on to other parties (hubclientinfo, credentials)."""

    class Meta:
        model = PlatformRole
        fields = ("business_details",)

    def clean_business_details(self) -> Any:
        value = self.cleaned_data["business_details"]
        if value in (None, {}):
            return {}
        serializer = BusinessDetailsSerializer(data=value)
        if not serializer.is_valid():
            raise ValidationError(
                f"Not a valid OCPI BusinessDetails: {validation_message(serializer.errors)}"
            )
        return value
