#!/usr/bin/env bash
# Starts deskhook on the demo config with an embedded SQLite file in ./demo-data.
set -euo pipefail
config=${1:-examples/demo.yaml}
mkdir -p demo-data
cat <<MSG
Starting deskhook on $config (store: demo-data/deskhook.db). Try:
  curl -s -X POST http://127.0.0.1:8080/webhooks/testing -H 'Content-Type: application/json' \\
       -d '{"subject":"Refund please","description":"Order 42","customer_email":"a@example.com"}'
  curl -s -H 'Authorization: Bearer demo-admin-token' http://127.0.0.1:8081/api/events
Stop with Ctrl-C.
MSG
exec ./build/deskhook serve -c "$config" --store sqlite:demo-data/deskhook.db
