"""Page-number pagination with absolute `next`/`previous` links."""

from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=N&page_size=M` (at most 200 per page); responses carry `count`, `next`, `previous`."""

    page_size_query_param = "page_size"
    max_page_size = 200
