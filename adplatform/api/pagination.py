"""Page-number pagination with absolute `next`/`previous` links."""

from typing import Any

from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=N&page_size=M` (at most 200 per page); responses carry `count`, `next`, `previous`."""

    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Any) -> int | None:
        """`page_size`, capped at 200; one that is not a whole number from 1 is a 400 naming it (DRF ignores it)."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 9 and int(raw) > 0):
            raise ValidationError({self.page_size_query_param: [f"Send a whole number from 1 to {self.max_page_size}."]})
        return min(int(raw), self.max_page_size)  # more than 200 reads as 200: the documented cap

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any] | None:
        """As DRF does, but a page that does not exist is a 400 naming `page`, like any bad input."""
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:
            raise ValidationError({self.page_query_param: [str(exc.detail)]}) from exc
