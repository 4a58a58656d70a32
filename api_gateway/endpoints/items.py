"""Items endpoints: list, read, edit and withdraw items; the feed, a seller's items, search.

Item ids are opaque to clients and carry the seller (`"<seller_id>-<item_id>"`): an id
that does not parse names no item (404 before any message is sent).
"""

from __future__ import annotations

import asyncio

from pydantic import TypeAdapter, ValidationError
from starlette.convertors import Convertor
from starlette.requests import Request
from starlette.responses import Response

from api_gateway.auth import authenticated_user
from api_gateway.bodies import read_json
from api_gateway.endpoints.accounts import caller_must_exist, idempotent_id
from api_gateway.endpoints.common import call, respond
from api_gateway.errors import ApiError
from api_gateway.pagination import encode_cursor, invalid_parameter, one_of, page_after, page_limit
from api_gateway.schemas.items import ItemCreateBody, ItemListOut, ItemOut, ItemUpdateBody
from contracts import ErrorCode
from contracts.accounts import GetUser
from contracts.products import (
    BrowseItems,
    DeleteItem,
    FeedPosition,
    GetItem,
    GetSellerItems,
    Item,
    ItemPage,
    ListItemForSale,
    SearchItems,
    SearchPage,
    SearchPosition,
    SearchText,
    UpdateItem,
    parse_item_id,
    parse_user_id,
)

FEED_STATUSES = ("available", "sold", "all")

# What clients may rely on, published in the OpenAPI document (`routes.py`).
ID_DOC = "Any id that names no item (malformed ones too) is 404 item_not_found."
FEED_DOC = (
    "Newest first. `status=available` (the default) lists the items for sale (reserved"
    " items are not); `sold` the sold ones; `all` every item that exists: available,"
    " reserved and sold. Keyset pagination on (created_at, id): walking the pages returns"
    " every item that existed when the walk began exactly once, even while new items are"
    " listed (those appear before the first page). A cursor not taken from a page is a 400."
)
CREATE_DOC = (
    "title 1-200 characters (not blank), description up to 5000 (optional, default empty),"
    " price 0.01-1000000.00 as a number or a string with at most two decimals. Any other"
    " field is a 400. With an Idempotency-Key, a retried request answers the first item."
)
UPDATE_DOC = (
    "Give at least one of title, description, price; the others keep their value (null is"
    " a 400). Only the seller may (403 not_owner); a reserved or sold item cannot be"
    " changed (409 item_not_editable)."
)
DELETE_DOC = (
    "A hard delete: the item is gone for good (a later GET or DELETE answers 404) and"
    " `item.deleted` is published. A reserved or sold item cannot be withdrawn (409)."
)
SEARCH_DOC = (
    "Full-text search over title and description with English stemming ('running' finds"
    " 'run'), over available items only, in web search syntax: words must all match,"
    ' "quoted phrase", `or`, `-word`. Ranked by text rank, title matches (weight A) above'
    " description matches (weight B), then newest first; the cursor carries (rank,"
    " created_at, id), so pages neither repeat nor skip a hit (unless it is edited"
    " meanwhile). Any text is safe: 1-200 characters after URL decoding, slashes included;"
    " a query with no searchable word (stop words, punctuation) finds nothing; NUL is a 400."
)
USER_ITEMS_DOC = (
    "Every status, newest first, keyset-paginated like the feed. 404 user_not_found when"
    " there is no such user (an id that is not a user id included)."
)
_SEARCH_TEXT: TypeAdapter[str] = TypeAdapter(SearchText)


class AnyTextConvertor(Convertor[str]):
    """The rest of the path, whatever it holds: slashes and line breaks too (`path` stops
    at a newline), so that any text reaches the search and gets a 200 or a 400."""

    regex = "(?s:.*)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


def item_out(item: Item) -> ItemOut:
    return ItemOut(
        id=item.public_id,
        seller_id=str(item.seller_id),
        title=item.title,
        description=item.description,
        price=item.price_cents,
        status=item.status,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def page_out(page: ItemPage | SearchPage) -> ItemListOut:
    return ItemListOut(
        items=[item_out(item) for item in page.items], next_cursor=encode_cursor(page.next_after)
    )


def item_key(request: Request) -> tuple[int, int]:
    """(seller_id, item_id) of the `{id}` in the path, or 404 item_not_found."""
    key = parse_item_id(request.path_params["id"])
    if key is None:
        raise ApiError(ErrorCode.ITEM_NOT_FOUND, "no such item")
    return key


async def list_items(request: Request) -> Response:
    status = one_of(request, "status", FEED_STATUSES, "available")
    limit, after = page_limit(request), page_after(request, FeedPosition)
    page: ItemPage = await call(request, BrowseItems(status=status, limit=limit, after=after))
    return respond(page_out(page))


async def get_item(request: Request) -> Response:
    seller_id, item_id = item_key(request)
    item: Item = await call(request, GetItem(seller_id=seller_id, item_id=item_id))
    return respond(item_out(item))


async def create_item(request: Request) -> Response:
    seller_id = authenticated_user(request)
    body = await read_json(request, ItemCreateBody)
    with caller_must_exist():
        item: Item = await call(
            request,
            ListItemForSale(
                listing_id=idempotent_id(seller_id, request, "item"),
                seller_id=seller_id,
                title=body.title,
                description=body.description,
                price_cents=body.price,
            ),
        )
    return respond(item_out(item), 201)


async def update_item(request: Request) -> Response:
    editor_id = authenticated_user(request)
    seller_id, item_id = item_key(request)
    body = await read_json(request, ItemUpdateBody)
    item: Item = await call(
        request,
        UpdateItem(
            seller_id=seller_id,
            item_id=item_id,
            editor_id=editor_id,
            title=body.title,
            description=body.description,
            price_cents=body.price,
        ),
    )
    return respond(item_out(item))


async def delete_item(request: Request) -> Response:
    requester_id = authenticated_user(request)
    seller_id, item_id = item_key(request)
    await call(request, DeleteItem(seller_id=seller_id, item_id=item_id, requester_id=requester_id))
    return Response(status_code=204)


async def search_items(request: Request) -> Response:
    """Any text is a safe query; one without searchable words finds nothing."""
    try:
        query = _SEARCH_TEXT.validate_python(request.path_params["query"])
    except ValidationError as exc:
        raise invalid_parameter("query", exc.errors()[0]["msg"]) from None
    limit, after = page_limit(request), page_after(request, SearchPosition)
    page: SearchPage = await call(request, SearchItems(query=query, limit=limit, after=after))
    return respond(page_out(page))


async def user_items(request: Request) -> Response:
    """A user's items of every status; 404 user_not_found when there is no such user.
    Both reads go out at once: the user check does not add a round trip."""
    seller_id = parse_user_id(request.path_params["userId"])
    if seller_id is None:
        raise ApiError(ErrorCode.USER_NOT_FOUND, "no such user")
    limit, after = page_limit(request), page_after(request, FeedPosition)
    user, page = await asyncio.gather(
        call(request, GetUser(user_id=seller_id)),
        call(request, GetSellerItems(seller_id=seller_id, limit=limit, after=after)),
        return_exceptions=True,
    )
    for outcome in (user, page):
        if isinstance(outcome, BaseException):
            raise outcome
    return respond(page_out(page))
