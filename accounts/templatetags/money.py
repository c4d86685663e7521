"""{{ micros|money }} renders integer micros as a decimal amount, e.g. 12.50."""

from django import template

from adplatform.money import format_amount

register = template.Library()


@register.filter
def money(micros: int | None) -> str:
    """Micros as the API shows them; empty for None."""
    return "" if micros is None else format_amount(micros)
