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

MSG
exec .venv/bin/honcho start -f Procfile
