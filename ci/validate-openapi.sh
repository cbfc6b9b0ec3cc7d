#!/usr/bin/env bash
# Validates the committed OpenAPI document against the OpenAPI 3.1 schema.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-ci
if [ ! -x "$venv/bin/openapi-spec-validator" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'openapi-spec-validator==0.7.*'
fi
"$venv/bin/openapi-spec-validator" openapi/openapi.json
