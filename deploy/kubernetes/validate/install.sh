#!/usr/bin/env bash
# Installs the deployment validators (requirements.txt: checkov,
# kubernetes-validate) into a virtual environment, once: nothing is done
# when that environment already holds these exact requirements. Prints the
# environment's bin directory, where tests/deploy_manifests.rs also looks.
#
#   deploy/kubernetes/validate/install.sh
#
# The environment is $LD_TOWER_VALIDATORS, else
# ${XDG_CACHE_HOME:-~/.cache}/ld-tower/validators (kept across clones and
# `cargo clean`). Needs python3 with venv (Debian: python3-venv).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${LD_TOWER_VALIDATORS:-${XDG_CACHE_HOME:-$HOME/.cache}/ld-tower/validators}"
if [ -x "$venv/bin/checkov" ] && [ -x "$venv/bin/kubernetes-validate" ] \
  && cmp -s "$here/requirements.txt" "$venv/ld-tower-requirements.txt"; then
  echo "$venv/bin"
  exit 0
fi
python3 -m venv --clear "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
cp "$here/requirements.txt" "$venv/ld-tower-requirements.txt"
echo "$venv/bin"
