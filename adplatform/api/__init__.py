"""The API framework every resource stands on: errors, scopes, idempotency, paging, throttling."""
