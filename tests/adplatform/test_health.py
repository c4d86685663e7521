import pytest
from django.db import connection
from django.db.backends.postgresql.base import DatabaseWrapper
from redis import Redis

from adplatform import views


@pytest.mark.django_db
def test_healthz_reports_both_services_up(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "postgres": "ok", "redis": "ok"}


@pytest.mark.django_db
def test_healthz_is_503_when_redis_does_not_answer(client, monkeypatch):
    closed_port = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    monkeypatch.setattr(views, "get_redis", lambda: closed_port)

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["postgres"] == "ok"
    assert body["redis"].startswith("error: ")


@pytest.mark.django_db
def test_healthz_is_503_when_postgres_does_not_answer(client, monkeypatch):
    unreachable = DatabaseWrapper({**connection.settings_dict, "PORT": 1, "OPTIONS": {"connect_timeout": 1}})
    monkeypatch.setattr(views, "connection", unreachable)

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["postgres"].startswith("error: ")
    assert body["redis"] == "ok"
