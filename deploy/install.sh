#!/bin/sh
# The image's build steps, also run without Docker by tests/deploy/test_image_steps.py:
# build facegate's wheel from SRC, install it with EXTRAS into a fresh virtual environment at
# PREFIX/venv, then check that the command runs. Every dependency comes from PyPI as a binary
# wheel (or, for face_recognition_models, a pure-data source package): CC and CXX point at
# `false`, so any dependency that tried to compile something would fail the build.
#
# usage: deploy/install.sh SRC PREFIX [EXTRAS]     (the Dockerfile: /src /opt/facegate)
set -eu
src=$1
prefix=$2
extras=${3:-server,postgres,milvus}
python=${PYTHON:-python3}

export CC=false CXX=false PIP_DISABLE_PIP_VERSION_CHECK=1
mkdir -p "$prefix/wheels"
"$python" -m pip wheel --quiet --no-deps --wheel-dir "$prefix/wheels" "$src"
"$python" -m venv "$prefix/venv"
wheel=$(ls "$prefix"/wheels/facegate-*.whl)
"$prefix/venv/bin/pip" install --quiet "$wheel[$extras]"
rm -rf "$prefix/wheels"
"$prefix/venv/bin/facegate" --version
"$prefix/venv/bin/python" -c "import facegate.server.app, facegate.store.milvus, psycopg, pymilvus"
