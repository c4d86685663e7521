"""Automated ad review: the checks that run before a human looks, with reasons an advertiser can act on."""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from .choices import AdFormat

MEDIA_EXTENSIONS = {
    AdFormat.IMAGE: (".jpg", ".jpeg", ".png", ".gif", ".webp"),
    AdFormat.VIDEO: (".mp4", ".webm", ".mov", ".m4v"),
}
VIEWER_TEXT_FIELDS = (("display_name", "display name"), ("headline", "headline"), ("body", "body"))


@dataclass(frozen=True)
class Term:
    term: str
    reason: str


def _contains(text: str, term: str) -> bool:
    pattern = r"(?<!\w)" + r"\s+".join(re.escape(word) for word in term.split()) + r"(?!\w)"
    return re.search(pattern, text, flags=re.IGNORECASE) is not None


def automated_review(
    *,
    ad: Mapping[str, Any],
    placement_formats: Iterable[Iterable[str]],
    placement_names: Iterable[str],
    blocked_terms: Iterable[Term],
) -> list[str]:
    """Reasons to reject the ad outright; empty when it may go on to a human reviewer."""
    reasons = []
    for term in blocked_terms:
        for field, label in VIEWER_TEXT_FIELDS:
            if _contains(ad.get(field) or "", term.term):
                why = f" ({term.reason})" if term.reason else ""
                reasons.append(
                    f"The {label} contains “{term.term}”, which our ad policy does not allow{why}. Reword it and save."
                )
    if urlparse(ad["landing_url"]).scheme != "https":
        reasons.append("The landing page must use https://.")
    ad_format = ad["format"]
    if ad_format in MEDIA_EXTENSIONS:
        path = urlparse(ad["media_url"]).path.lower()
        extensions = MEDIA_EXTENSIONS[ad_format]
        if not path.endswith(extensions):
            article = "an" if ad_format == AdFormat.IMAGE else "a"
            reasons.append(f"The media file must be a direct link to {article} {ad_format} file ({', '.join(extensions)}).")
    if not any(ad_format in formats for formats in placement_formats):
        names = ", ".join(placement_names)
        reasons.append(
            f"None of the ad group's placements ({names}) shows {ad_format} ads; add one that does or change the format."
        )
    return reasons
