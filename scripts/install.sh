#!/usr/bin/env bash
# Install htsweep and its test tools into ./.venv (created if missing). Idempotent.
#
# PyTorch: if the venv has no torch yet, install $HTSWEEP_TORCH first (default torch==2.13.0,
# a CPU wheel on the project's CPU machines).  On a GPU machine install the CUDA build you want
# into .venv before running this script (or set HTSWEEP_TORCH, e.g. "torch==2.13.0" with your
# index URL in PIP_EXTRA_INDEX_URL); an existing torch is never replaced.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "install: creating .venv with $($PYTHON --version 2>&1)" >&2
  "$PYTHON" -m venv .venv
fi
pip_install() { .venv/bin/python -m pip install --disable-pip-version-check -q "$@" 2> >(grep -v "^WARNING: Location" >&2); }
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  echo "install: installing ${HTSWEEP_TORCH:-torch==2.13.0}" >&2
  pip_install "${HTSWEEP_TORCH:-torch==2.13.0}"
fi
pip_install -e ".[test]"
echo "install: htsweep $(.venv/bin/python -c 'import htsweep; print(htsweep.__version__)') ready in .venv (torch $(.venv/bin/python -c 'import torch; print(torch.__version__)'))" >&2
