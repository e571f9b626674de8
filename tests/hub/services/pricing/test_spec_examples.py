"""Every worked example of OCPI 2.2.1 `mod_tariffs.asciidoc` (release-2.2.1-bugfixes) and the
step_size examples of `mod_cdrs.asciidoc`, and two reference vectors of the TandemDrive pricer
(`tandemdrive_*`: step_size/cdr1, step_size_energy/cdr1), encoded in
tests/fixtures/ocpi_2_2_1/pricing/.

Expected amounts are the spec's, compared at 4 decimals (exact for every example: none needs
rounding to cents except where a fixture's `note` says so).
"""

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from hub.services.pricing import Price, price_cdr

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "ocpi_2_2_1" / "pricing"
FOUR = Decimal("0.0001")


def q(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(FOUR, rounding=ROUND_HALF_UP)


def expected(value: Any) -> Decimal | None:
    return None if value is None else q(Decimal(str(value)))


def _cases() -> list[Any]:
    params = []
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_text())
        for case in data["cases"]:
            params.append(pytest.param(data, case, id=f"{path.stem}: {case['name']}"))
    return params


@pytest.mark.parametrize(("fixture", "case"), _cases())
def test_spec_example(fixture: dict[str, Any], case: dict[str, Any]) -> None:
    result = price_cdr(case["cdr"], fixture["tariffs"], fixture["time_zone"])
    for key, want in case["expected"].items():
        got = getattr(result, key)
        if isinstance(got, Price):
            assert (q(got.excl_vat), q(got.incl_vat)) == (expected(want[0]), expected(want[1])), key
        else:
            assert q(got) == expected(want), key
    # A case may name issues its input is known to raise (a reference CDR without TIME).
    allowed = set(case.get("allowed_issues", []))
    unexpected = [i for i in result.issues if not i.code.endswith("_applied")]
    assert not [i for i in unexpected if i.code not in allowed], result.issues


def test_every_fixture_has_cases() -> None:
    files = sorted(FIXTURES.glob("*.json"))
    assert len(files) >= 19
    assert all(json.loads(f.read_text())["cases"] for f in files)
