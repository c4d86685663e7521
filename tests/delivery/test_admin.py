"""Delivery's pages in Django admin, as platform staff use them."""

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("term", ["²", "١٢", "12", "9" * 30, "not an id"])
def test_the_event_log_search_answers_any_term(client, term):
    # "²" is a digit to str.isdigit() but not to int(): a search for text, not a 500
    client.force_login(UserFactory(email="staff@adplatform.test", is_staff=True, is_superuser=True))

    response = client.get("/admin/delivery/event/", {"q": term})

    assert response.status_code == 200
