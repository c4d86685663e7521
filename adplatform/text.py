"""Checks on text from outside where Python's own string methods let too much through."""


def is_id(text: str) -> bool:
    """Whether `text` is an id as clients write one: 1-18 ASCII digits (it fits a bigint).

    `str.isdigit()` alone also takes "²" and other digits `int()` refuses.
    """
    return text.isascii() and text.isdigit() and len(text) <= 18


def is_utf8(text: str) -> bool:
    """Whether `text` can be encoded as UTF-8: JSON's "\\ud800" escapes decode to lone surrogates, which cannot."""
    if text.isascii():  # O(1) in CPython: the common case costs nothing
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
