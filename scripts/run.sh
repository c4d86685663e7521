#!/usr/bin/env bash
# `make run`: web, Celery workers and beat in the foreground; Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-8000}"
HOST="${HOST:-127.0.0.1}"
export WEB_PORT="$PORT" WEB_HOST="$HOST"

.venv/bin/python manage.py collectstatic --noinput -v0
.venv/bin/python manage.py seed_demo

cat <<MSG

  Adplatform is starting at http://${HOST}:${PORT}
  Staff admin: http://${HOST}:${PORT}/admin/   API docs: http://${HOST}:${PORT}/api/docs/
  Log in with one of the demo logins above. Ctrl-C stops everything.
  Top-ups use the sandbox gateway: pay with pm_card_visa (pm_card_chargeDeclined is declined);
  the code WELCOME25 gives 25 USD of ad credit once a first top-up succeeds.

MSG
exec .venv/bin/honcho start -f Procfile
