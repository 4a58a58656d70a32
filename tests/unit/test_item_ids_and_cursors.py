"""Public item ids carry their seller; cursors are opaque and refuse anything the gateway
did not make; the items API models refuse what `api.md` refuses."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from api_gateway.bodies import validate
from api_gateway.errors import ApiError
from api_gateway.pagination import decode_cursor, encode_cursor
from api_gateway.schemas.items import ItemCreateBody, ItemUpdateBody
from contracts.products import (
    MAX_BIGINT,
    FeedPosition,
    SearchPosition,
    format_item_id,
    parse_item_id,
    parse_user_id,
)


@pytest.mark.parametrize("key", [(1, 1), (3, 41), (MAX_BIGINT, MAX_BIGINT), (7, 10**12)])
def test_item_ids_round_trip(key: tuple[int, int]) -> None:
    assert parse_item_id(format_item_id(*key)) == key


@pytest.mark.parametrize("text", [
    "", "3", "3-", "-41", "3--41", "3-41-5", "03-41", "3-041", "0-1", "1-0", "+3-41", "3-+41",
    " 3-41", "3-41 ", "3-41\n", "3_41", "3.0-41", "a-b", "٣-٤١", "３-４１",
    f"{MAX_BIGINT + 1}-1", f"1-{MAX_BIGINT + 1}", "9" * 40 + "-1",
])
def test_malformed_item_ids_name_nothing(text: str) -> None:
    assert parse_item_id(text) is None


def test_user_ids() -> None:
    assert parse_user_id("7") == 7
    assert parse_user_id(str(MAX_BIGINT)) == MAX_BIGINT
    for text in ("", "0", "-7", "07", "7a", "٧", str(MAX_BIGINT + 1), "7\n"):
        assert parse_user_id(text) is None, text


def test_cursors_round_trip_exactly() -> None:
    feed = FeedPosition(created_at=datetime(2026, 11, 26, 10, 0, 0, 123456, UTC), item_id=41)
    search = SearchPosition(rank=0.6079270839691162, created_at=feed.created_at, item_id=41)
    for position in (feed, search):
        cursor = encode_cursor(position)
        assert cursor is not None and "=" not in cursor
        assert cursor.replace("-", "").replace("_", "").isalnum()
        assert decode_cursor(cursor, type(position)) == position
    assert encode_cursor(None) is None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize("cursor", [
    "", "!", "é", "a", "x" * 600, _b64(b"null"), _b64(b"[]"), _b64(b"{}"), _b64(b"\xff\xfe"),
    _b64(b'{"created_at": "2026-01-01T00:00:00", "item_id": 1}'),  # no time zone
    _b64(b'{"created_at": "2026-01-01T00:00:00Z", "item_id": -1}'),
    _b64(b'{"created_at": "2026-01-01T00:00:00Z", "item_id": 9223372036854775808}'),
    _b64(b'{"created_at": "2026-01-01T00:00:00Z", "item_id": 1, "extra": 1}'),
    _b64(b'{"created_at": "yesterday", "item_id": 1}'),
    _b64(b"[" * 5000),
])
def test_foreign_cursors_are_a_400(cursor: str) -> None:
    with pytest.raises(ApiError) as error:
        decode_cursor(cursor, FeedPosition)
    assert error.value.code == "validation_error"


@pytest.mark.parametrize("rank", ["NaN", "Infinity", "-1", '"high"'])
def test_search_cursor_ranks_are_finite(rank: str) -> None:
    raw = f'{{"rank": {rank}, "created_at": "2026-01-01T00:00:00Z", "item_id": 1}}'
    with pytest.raises(ApiError):
        decode_cursor(_b64(raw.encode()), SearchPosition)


def test_item_bodies() -> None:
    body = validate(ItemCreateBody, {"title": "Lamp", "price": "12.5"})
    assert (body.title, body.description, body.price) == ("Lamp", "", 1250)
    update = validate(ItemUpdateBody, {"price": 9})
    assert update.price == 900 and update.model_fields_set == {"price"}
    for bad in ({}, {"title": None}, {"status": "sold"}, {"price": "1e2"}):
        with pytest.raises(ApiError):
            validate(ItemUpdateBody, bad)
