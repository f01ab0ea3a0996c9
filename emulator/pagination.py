"""``page_no``/``page_size`` paging shared by every native list endpoint (page numbers start at 1), and the
``limit`` of the OpenAI-style lists that page by ``after``."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import QueryParams

from emulator.errors import InvalidParameter

MAX_OFFSET = 2**62


@dataclass(frozen=True)
class Page:
    page_no: int
    page_size: int

    @property
    def offset(self) -> int:
        """Capped below SQLite's 64-bit integers: a page past any data is empty, never an overflow."""
        return min((self.page_no - 1) * self.page_size, MAX_OFFSET)


def _int_param(query: QueryParams, names: tuple[str, ...], default: int) -> int:
    for name in names:
        raw = query.get(name)
        if raw is None or raw == "":
            continue
        try:
            return int(raw)
        except ValueError:
            raise InvalidParameter(f"{name} must be an integer (got {raw!r}).", param=name) from None
    return default


def parse_page(query: QueryParams, *, default_size: int = 10, max_size: int = 100) -> Page:
    """Page sizes above the maximum are clamped (reference §12.11); zero or negative values are refused."""
    page_no = _int_param(query, ("page_no", "page"), 1)
    page_size = _int_param(query, ("page_size", "size"), default_size)
    if page_no < 1:
        raise InvalidParameter(f"page_no must be >= 1 (got {page_no}).", param="page_no")
    if page_size < 1:
        raise InvalidParameter(f"page_size must be >= 1 (got {page_size}).", param="page_size")
    return Page(page_no, min(page_size, max_size))


def cursor_limit(query: QueryParams, *, default: int = 20, most: int = 100) -> int:
    """``limit`` of an OpenAI-style list (compatible Files, Batch): an integer in [1, ``most``], refused otherwise."""
    try:
        limit = int(query.get("limit") or default)
    except ValueError:
        raise InvalidParameter("limit must be an integer.", param="limit") from None
    if not 1 <= limit <= most:
        raise InvalidParameter(f"limit must be between 1 and {most}.", param="limit")
    return limit
