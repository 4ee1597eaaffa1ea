#!/bin/sh
# Refreshes the locks from pyproject.toml's ranges: requirements/run.txt (the bot) and
# requirements/dev.txt (the bot, its tests and tools). Both hold exact versions for every
# Python the project supports (markers where they differ), and the build tools.
#
#   sh requirements/refresh.sh                 # every package to its newest allowed release
#   sh requirements/refresh.sh --upgrade-package aiohttp   # just one (and what it needs)
#   sh requirements/refresh.sh --no-upgrade    # only add what pyproject.toml gained
#
# Then check the upgrade: `git diff requirements/` shows what moved, and `bash .ci/run`
# installs the new locks in a fresh virtualenv and runs lint, types, tests and benchmarks.
set -eu
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
tools="${TMPDIR:-/tmp}/newsbot-uv-$UV_VERSION"
if [ ! -x "$tools/bin/uv" ]; then
  python3 -m venv "$tools"
  "$tools/bin/python" -m pip install --quiet "uv==$UV_VERSION"
fi
case "${1:-}" in
  --no-upgrade) shift; set -- "$@" ;;
  "") set -- --upgrade ;;
esac
common="--universal --python-version 3.11 --quiet --no-header --annotation-style line"
# shellcheck disable=SC2086
"$tools/bin/uv" pip compile $common "$@" pyproject.toml requirements/build.in \
  -o requirements/run.txt
# The dev lock takes the run lock's versions as they are, so tests run what operators run.
# shellcheck disable=SC2086
"$tools/bin/uv" pip compile $common "$@" --extra dev pyproject.toml requirements/build.in \
  --constraint requirements/run.txt -o requirements/dev.txt
echo "requirements/run.txt: $(grep -c '==' requirements/run.txt) packages;" \
  "requirements/dev.txt: $(grep -c '==' requirements/dev.txt) packages"
