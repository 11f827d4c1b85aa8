"""Bad input of any shape is a 4xx, never a 500 (a small property-based stand-in for schemathesis)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import API_KEY, Aws, post_ticket, ticket_payload

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
ticket_like = st.fixed_dictionaries(
    {},
    optional={field: json_values | st.text(max_size=200) for field in ticket_payload()},
)
FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the repository
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # the mocked account may carry over: harmless
)


@FUZZ
@given(document=json_values | ticket_like, raw=st.binary(max_size=64), use_raw=st.booleans())
def test_any_body_is_answered_without_a_500(client: Any, aws: Aws, document: Any, raw: bytes, use_raw: bool) -> None:
    response = post_ticket(client, raw if use_raw else json.dumps(document).encode())

    assert response.status_code in {202, 400, 409, 413, 415, 422}
    if response.status_code != 202:
        assert set(json.loads(response.body)) == {"error", "message", "details"}


@FUZZ
@given(
    params=st.dictionaries(
        st.sampled_from(["customer_id", "team", "limit", "next_token", "other"]), st.text(max_size=40), max_size=4
    )
)
def test_any_query_is_answered_without_a_500(client: Any, aws: Aws, params: dict[str, str]) -> None:
    response = client.http.get(f"/tickets?{urlencode(params)}", headers={"x-api-key": API_KEY})

    assert response.status_code in {200, 400}
    if response.status_code == 400:
        assert json.loads(response.body)["error"] == "invalid_query"
