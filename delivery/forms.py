"""Dashboard forms for delivery: they only translate; delivery.services checks the rules."""

from django import forms


class PixelForm(forms.Form):
    """A new conversion pixel."""

    name = forms.CharField(max_length=100, help_text="Where it reports from, e.g. “Web shop checkout”.")
