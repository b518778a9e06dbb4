#!/usr/bin/env bash
# Create .venv (Python 3.11) and install kvsriov with its test tools. Idempotent: when
# pyproject.toml has not changed since the last install, it returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.kvsriov-installed
want=$(sha256sum pyproject.toml | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && .venv/bin/python -c 'import kvsriov' 2>/dev/null; then
  exit 0
fi
echo "installing kvsriov and its Python dependencies into .venv (pip; about a minute the first time)"
log=.venv/pip-install.log
# pip's own log is kept, not shown: setuptools' notice about how an editable install is made
# is not the user's business; a failure prints the whole log.
if ! { .venv/bin/python -m pip install --quiet --upgrade pip \
       && .venv/bin/python -m pip install --quiet -e '.[test]'; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "pip could not install kvsriov into .venv: see above (log: $log)" >&2
  exit 1
fi
echo "$want" >"$stamp"
