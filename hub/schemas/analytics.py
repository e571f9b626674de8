"""The analytics report as the partner endpoint answers it (`hub.api.analytics`): for the
OpenAPI schema only (the report is built by `hub.services.analytics`, never parsed). Figures
are defined in docs/analytics.md."""

from rest_framework import serializers

KWH_HELP = "kWh as a decimal string, 4 places"


class _ChargingDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    sessions = serializers.IntegerField()
    kwh = serializers.CharField(help_text=KWH_HELP)


class _ChargingLocationSerializer(serializers.Serializer):
    country_code = serializers.CharField()
    party_id = serializers.CharField()
    location_id = serializers.CharField()
    sessions = serializers.IntegerField()
    kwh = serializers.CharField(help_text=KWH_HELP)


class _CounterpartSerializer(serializers.Serializer):
    country_code = serializers.CharField(help_text="The counterpart party (eMSP for a CPO)")
    party_id = serializers.CharField()
    sessions = serializers.IntegerField()
    kwh = serializers.CharField(help_text=KWH_HELP)


class ChargingFiguresSerializer(serializers.Serializer):
    sessions = serializers.IntegerField(help_text="CDRs: non-credit CDRs; sessions: sessions")
    kwh = serializers.CharField(help_text=KWH_HELP)
    credits = serializers.IntegerField(required=False, help_text="Credit CDRs (CDRs only)")
    per_day = _ChargingDaySerializer(many=True)
    per_location = _ChargingLocationSerializer(many=True)
    per_counterpart = _CounterpartSerializer(many=True)


class _BucketsSerializer(serializers.Serializer):
    CHARGING = serializers.FloatField(allow_null=True)
    BLOCKED = serializers.FloatField(allow_null=True)
    OUTOFORDER = serializers.FloatField(allow_null=True)
    OTHER = serializers.FloatField(allow_null=True)
    UNKNOWN = serializers.FloatField(allow_null=True)


class _EvseUtilisationSerializer(serializers.Serializer):
    country_code = serializers.CharField()
    party_id = serializers.CharField()
    location_id = serializers.CharField()
    evse_uid = serializers.CharField()
    seconds = _BucketsSerializer()
    shares = _BucketsSerializer(help_text="Share of the observed period, 0..1; null if none")


class _LocationUtilisationSerializer(serializers.Serializer):
    country_code = serializers.CharField()
    party_id = serializers.CharField()
    location_id = serializers.CharField()
    evses = serializers.IntegerField()
    seconds = _BucketsSerializer()
    shares = _BucketsSerializer()


class UtilisationSerializer(serializers.Serializer):
    buckets = serializers.ListField(child=serializers.CharField())
    evses = _EvseUtilisationSerializer(many=True)
    locations = _LocationUtilisationSerializer(many=True)


class _AuthorizationCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    answered = serializers.IntegerField()
    allowed = serializers.IntegerField()
    denied = serializers.IntegerField()
    by_allowed = serializers.DictField(child=serializers.IntegerField())
    unknown_token = serializers.IntegerField()
    refused = serializers.IntegerField()
    timeout = serializers.IntegerField()
    failed = serializers.IntegerField()
    allow_rate = serializers.FloatField(allow_null=True)
    deny_rate = serializers.FloatField(allow_null=True)
    failure_rate = serializers.FloatField(allow_null=True)


class _AuthorizationCounterpartSerializer(_AuthorizationCountsSerializer):
    country_code = serializers.CharField()
    party_id = serializers.CharField()


class AuthorizationFiguresSerializer(_AuthorizationCountsSerializer):
    per_counterpart = _AuthorizationCounterpartSerializer(many=True)


class PartyFiguresSerializer(serializers.Serializer):
    country_code = serializers.CharField()
    party_id = serializers.CharField()
    role = serializers.ChoiceField(choices=["CPO", "EMSP"])
    cdrs = ChargingFiguresSerializer(help_text="From CDRs: the billable truth")
    sessions = ChargingFiguresSerializer(help_text="From sessions: the live view")
    utilisation = UtilisationSerializer(required=False, help_text="CPO parties only")
    authorizations = AuthorizationFiguresSerializer()


class _MillisSerializer(serializers.Serializer):
    avg = serializers.FloatField(allow_null=True)
    p50 = serializers.FloatField(allow_null=True)
    p95 = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)


class DeliveryFiguresSerializer(serializers.Serializer):
    receiver = serializers.CharField()
    receiver_id = serializers.IntegerField()
    attempts = serializers.IntegerField()
    failed_attempts = serializers.IntegerField()
    attempt_ms = _MillisSerializer()
    delivered = serializers.IntegerField()
    latency_ms = _MillisSerializer(help_text="Enqueued to delivered, retries included")
    failed = serializers.IntegerField()
    dead = serializers.IntegerField()


class AnalyticsReportSerializer(serializers.Serializer):
    date_from = serializers.CharField(help_text="OCPI DateTime, inclusive")
    date_to = serializers.CharField(help_text="OCPI DateTime, exclusive")
    parties = PartyFiguresSerializer(many=True)
    deliveries = DeliveryFiguresSerializer(many=True, help_text="The hub's pushes to you")
