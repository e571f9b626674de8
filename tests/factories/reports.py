"""Factories for reconciliation runs, their findings, and the staff export log."""

from datetime import date

import factory

from hub.models import ReconciliationFinding, ReconciliationReport, StaffExport
from tests.factories.base import HubModelFactory


class ReconciliationReportFactory(HubModelFactory[ReconciliationReport]):
    """A finished run over one day of NL*ABC's CDRs to DE*EMS."""

    class Meta:
        model = ReconciliationReport

    cpo_country_code = "NL"
    cpo_party_id = "ABC"
    emsp_country_code = "DE"
    emsp_party_id = "EMS"
    period_start = date(2025, 3, 1)
    period_end = date(2025, 3, 2)
    status = "DONE"


class ReconciliationFindingFactory(HubModelFactory[ReconciliationFinding]):
    class Meta:
        model = ReconciliationFinding

    report = factory.SubFactory(ReconciliationReportFactory)
    kind = "MISSING"
    cdr_key = "NL/ABC/CDR1"
    message = "the CPO lists it, the hub never received it"


class StaffExportFactory(HubModelFactory[StaffExport]):
    class Meta:
        model = StaffExport

    username = "staff"
    what = "cdrs"
    rows = 1
