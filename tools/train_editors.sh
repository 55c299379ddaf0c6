#!/usr/bin/env bash
# Rebuilds the shipped Asyrp editors in data/editors/ (each under 2 minutes on 2 CPU cores).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
for kind in f dh; do
  for spec in "smile 1" "smile -1" "glasses 1" "glasses 0"; do
    set -- $spec
    $PY -m latentlab.asyrp --attr "$1" --goal "$2" --kind "$kind" --threads "${THREADS:-2}"
  done
done
