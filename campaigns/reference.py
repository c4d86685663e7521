"""Reference data every installation needs: the interest taxonomy and default ad policy terms."""

from typing import Any

# (category, key, name)
INTERESTS = [
    ("Arts & Entertainment", "movies", "Movies"),
    ("Arts & Entertainment", "music", "Music"),
    ("Arts & Entertainment", "tv_shows", "TV shows"),
    ("Arts & Entertainment", "books", "Books & literature"),
    ("Games", "gaming", "Video games"),
    ("Games", "mobile_games", "Mobile games"),
    ("Games", "esports", "Esports"),
    ("Sports & Fitness", "fitness", "Fitness"),
    ("Sports & Fitness", "football", "Football"),
    ("Sports & Fitness", "basketball", "Basketball"),
    ("Sports & Fitness", "outdoor", "Outdoor activities"),
    ("Food & Drink", "cooking", "Cooking"),
    ("Food & Drink", "baking", "Baking"),
    ("Food & Drink", "restaurants", "Restaurants"),
    ("Food & Drink", "coffee", "Coffee"),
    ("Shopping & Fashion", "fashion", "Fashion"),
    ("Shopping & Fashion", "beauty", "Beauty & personal care"),
    ("Shopping & Fashion", "online_shopping", "Online shopping"),
    ("Technology", "gadgets", "Gadgets"),
    ("Technology", "software", "Software & apps"),
    ("Technology", "photography", "Photography"),
    ("Travel", "travel", "Travel"),
    ("Travel", "hotels", "Hotels"),
    ("Travel", "adventure_travel", "Adventure travel"),
    ("Family & Home", "parenting", "Parenting"),
    ("Family & Home", "pets", "Pets"),
    ("Family & Home", "home_garden", "Home & garden"),
    ("Business & Finance", "personal_finance", "Personal finance"),
    ("Business & Finance", "small_business", "Small business"),
    ("Business & Finance", "careers", "Careers & education"),
    ("Vehicles", "cars", "Cars"),
    ("Vehicles", "motorcycles", "Motorcycles"),
]

# (term, reason shown to the advertiser)
BLOCKED_TERMS = [
    ("miracle cure", "unproven health claims"),
    ("guaranteed returns", "misleading financial promises"),
    ("get rich quick", "misleading financial promises"),
    ("lose weight fast", "unrealistic weight-loss claims"),
]


def seed_interests(interest_model: Any) -> None:
    """Create or update the taxonomy (`interest_model` may be a migration's historical model)."""
    for category, key, name in INTERESTS:
        interest_model.objects.update_or_create(key=key, defaults={"category": category, "name": name, "is_active": True})


def seed_blocked_terms(blocked_term_model: Any) -> None:
    """Create the default policy terms where missing (staff may have edited their reasons)."""
    for term, reason in BLOCKED_TERMS:
        if not blocked_term_model.objects.filter(term__iexact=term).exists():
            blocked_term_model.objects.create(term=term, reason=reason)
