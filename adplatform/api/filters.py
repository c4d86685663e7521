"""The API's ordering: DRF's, except that an ordering it does not know is refused, not ignored."""

from typing import Any

from rest_framework import filters
from rest_framework.exceptions import ValidationError


class OrderingFilter(filters.OrderingFilter):
    """`?ordering=name,-created_at` over a list's own fields; anything else is a 400 naming `ordering`.

    DRF drops terms it does not know and sorts by the default: a typo ("-create_at") would return
    a list in an order the client did not ask for, without a word. The reports API refuses the same way.
    """

    def get_ordering(self, request: Any, queryset: Any, view: Any) -> Any:
        raw = request.query_params.get(self.ordering_param)
        if raw is not None:
            terms = [term.strip() for term in raw.split(",")]
            valid = sorted(field for field, _ in self.get_valid_fields(queryset, view, {"request": request}))
            if not all(term and term.lstrip("-") in valid for term in terms):
                message = f"Order by {', '.join(valid)}, or several joined by commas; - before one for descending."
                raise ValidationError({self.ordering_param: [message]})
        return super().get_ordering(request, queryset, view)
