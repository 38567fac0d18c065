#!/usr/bin/env bash
# Quick start, no AWS account needed: installs the project into .venv, starts the local
# emulator on 127.0.0.1:4010 and the daemon on the embedded spool (config/local.yaml).
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/../.."

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c requirements.lock -e .

# The emulator has two identities (any secret will do): the access key `partner` acts for the
# partner's account 123456789012 (creates sources, sends events), `customer` for the customer's
# account 111122223333 (owns the partner event bus and the Connect resources).
export AWS_ACCESS_KEY_ID=partner AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true

.venv/bin/partner-publisher --log-level warning emulator --host 127.0.0.1 --port 4010 &
emulator=$!
trap 'kill "$emulator" 2> /dev/null || true' EXIT
.venv/bin/python - <<'PY'
import time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen("http://127.0.0.1:4010/_emulator/stats", timeout=1)
        break
    except OSError:
        time.sleep(0.1)
PY

# Onboarding, as with real AWS: the partner creates the tenant's source (PENDING) ...
.venv/bin/partner-publisher --log-level warning sources sync --config config/local.yaml
# ... and the customer creates the matching partner event bus, which makes it ACTIVE.
.venv/bin/python - <<'PY'
import botocore.session
source = "aws.partner/example.com/acme/orders"
events = botocore.session.get_session().create_client(
    "events", region_name="us-east-1", endpoint_url="http://127.0.0.1:4010",
    aws_access_key_id="customer", aws_secret_access_key="testing",  # the customer's account
)
try:
    events.create_event_bus(Name=source, EventSourceName=source)
except events.exceptions.ResourceAlreadyExistsException:
    pass
PY

cat <<TXT

partner-publisher is starting: ingest on http://127.0.0.1:8088, metrics on http://127.0.0.1:9464,
the operations console on http://127.0.0.1:9464/ui (read-only: config/local.yaml sets no admin.token).
In another terminal, in $PWD, put the CLI on PATH and act as the partner
(access key \`partner\`, account 123456789012; the customer is \`customer\`, 111122223333):

  cd $PWD
  export PATH="$PWD/.venv/bin:\$PATH"
  export AWS_ACCESS_KEY_ID=partner AWS_SECRET_ACCESS_KEY=testing PUBLISHER_CONFIG=config/local.yaml

Then post an event and watch it arrive:

  curl -s -X POST http://127.0.0.1:8088/v1/events \\
    -H 'Content-Type: application/json' \\
    -d '{"tenant": "acme", "detail_type": "OrderCreated", "detail": {"order_id": "ord-1001"}}'
  curl -s 'http://127.0.0.1:4010/_emulator/events?limit=10'
  curl -s http://127.0.0.1:9464/metrics | grep '^publisher_events_published_total'

README.md ("Your first hour") goes on from there: sources, send, dlq, connect.

TXT
.venv/bin/partner-publisher --log-format console run --config config/local.yaml
