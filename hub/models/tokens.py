"""Tokens as the hub stores them (2.2.1 mod_tokens) and the token-owner index used to route
real-time authorization, commands, sessions and CDRs to the eMSP that owns a token."""

from typing import ClassVar

from django.db import models

from hub.models.base import ClientOwnedObject
from hub.models.choices import spec_choices
from hub.models.spec_enums import TokenType


class Token(ClientOwnedObject):
    """An eMSP's token as received (2.2.1: unique per (uid, type) within the eMSP; never
    deleted, invalidated with `valid=false`)."""

    uid = models.CharField(max_length=36)
    type = models.CharField(max_length=12, choices=spec_choices(TokenType))
    contract_id = models.CharField(max_length=36, blank=True, default="")
    valid = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(ClientOwnedObject.Meta):
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["country_code", "party_id", "uid", "type"], name="uniq_token"
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["last_updated", "id"], name="token_page"),
            models.Index(fields=["uid", "type"], name="token_uid"),
            models.Index(fields=["contract_id"], name="token_contract"),
        ]

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id} {self.type} {self.data.get('uid', self.uid)}"


class TokenSource(models.TextChoices):
    """Where the hub learned who owns a token."""

    TOKENS = "TOKENS", "Tokens module"
    COMMAND = "COMMAND", "Command"
    SESSION = "SESSION", "Session"
    CDR = "CDR", "CDR"


class TokenOwner(models.Model):
    """The token-owner index: which eMSP party owns a (uid, type). Fed by the tokens module and
    by every token seen in commands, sessions and CDRs (keys upper-cased: CiStrings)."""

    uid = models.CharField(max_length=36)
    type = models.CharField(max_length=12, choices=spec_choices(TokenType))
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    source = models.CharField(max_length=8, choices=TokenSource.choices)
    last_seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["-last_seen_at", "pk"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["uid", "type", "country_code", "party_id"], name="uniq_token_owner"
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["uid", "type"], name="token_owner_uid")]

    def __str__(self) -> str:
        return f"{self.type} {self.uid} → {self.country_code}*{self.party_id}"
