"""The OCPI objects as DRF serializers, written once and used by both gateways."""
