"""Schemathesis over our OpenAPI schema: whatever it sends, never a 5xx, responses
as documented (status, content type, schema), and every error in our one shape. Bounded: a few examples per operation, as admin and as a
shipper, on both databases."""

from __future__ import annotations

import os

import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.specs.openapi.checks import positive_data_acceptance

from lastmile.jobs.queue import huey

# Schema-valid bodies may still break rules a schema cannot state (an order needs an
# address or lat/lon; the depot must exist): 422 there is right, so that check is off.
BUSINESS_RULES = [positive_data_acceptance]
# valid inputs, then invalid ones (which must be refused with a 4xx, never a 5xx)
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
EXAMPLES = int(os.environ.get("LASTMILE_FUZZ_EXAMPLES", "5"))


def test_no_server_errors_anywhere_in_the_schema(app, world):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 50
    problems: list[str] = []

    for op, mode in [(op, mode) for op in operations for mode in MODES]:

        @given(case=op.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            for role in ("admin", "shipper"):
                where = f"{case.method} {case.formatted_path} as {role}"
                try:  # schemathesis' checks: status codes, content types, response schemas
                    response = case.call_and_validate(headers={**world.headers[role]}, excluded_checks=BUSINESS_RULES)
                except Exception as e:  # schemathesis reports failed checks as a FailureGroup
                    problems.append(f"{where}: {str(e)[:800]}")
                    continue
                if response.status_code >= 500:
                    problems.append(f"{where}: {response.status_code} {response.text[:300]}")
                    continue
                ctype = response.headers.get("content-type", "")
                ctype = ctype[0] if isinstance(ctype, list) and ctype else str(ctype)
                if response.status_code >= 400 and ctype.startswith("application/json"):
                    body = response.json()
                    if set(body) != {"error"} or not {"code", "message"} <= set(body["error"]):
                        problems.append(f"{where}: error not in our shape: {body}")

        try:
            run()
        except Unsatisfiable:  # nothing in this operation can be made invalid (e.g. no parameters)
            assert mode is GenerationMode.NEGATIVE
    huey.flush()  # jobs enqueued by fuzzed requests are for no worker
    assert not problems, "\n".join(problems[:40])
