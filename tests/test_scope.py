"""Reading the request's unit: path parameter, query parameter, header."""

from __future__ import annotations

import pytest
from starlette.datastructures import QueryParams

from core.web.scope import query_value


@pytest.mark.parametrize(
    "query",
    [
        b"unit=330802001000",
        b"x=1&unit=%33%33&unit=9",
        b"units=1",
        b"",
        b"unit=",
        b"a=%E5%BA%9C&unit=+1",
        b"unit=%E5%BA%9C",
        b"unitx=1&unit=2",
    ],
)
def test_query_value_agrees_with_starlette(query: bytes) -> None:
    expected = QueryParams(query.decode("latin-1")).get("unit")
    assert query_value(query, b"unit") == expected


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def sanmin_extra_plugins():  # type: ignore[no-untyped-def]
    from tests import sample_plugin

    return [("sample", sample_plugin)]


def test_an_encoded_key_cannot_point_the_guard_elsewhere(sanmin) -> None:
    on, off = sanmin.township(), sanmin.township()
    sanmin.enable("sample", on)
    sneaky = f"/api/v1/p/sample/echo?unit={on.code}&%75nit={off.code}"
    answer = sanmin.client.get(sneaky)
    assert answer.status_code == 404 and answer.json()["unit"] == off.code
