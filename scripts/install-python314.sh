#!/usr/bin/env bash
# A copy of the project toolbox's ../shared/tools/python314.sh, kept here so that a
# checkout alone (CI) can install the Python 3.14 its tests also run on.
# Installs CPython 3.14 (the GIL build, with InterpreterPoolExecutor) and aiohttp into
# one folder, for benchmarks against the seed's own Python programs. It takes Debian
# unstable's binary packages through a private apt configuration (the system's apt
# sources and installed packages are not touched), unpacks them, and points the
# interpreter at its own libraries with patchelf. aiohttp comes from PyPI as cp314 wheels.
#
#   bash ../shared/tools/python314.sh [DIR]      # default DIR: /opt/python3.14
#   DIR/bin/python3.14 -c 'from concurrent.futures import InterpreterPoolExecutor'
#
# Idempotent: a second run with the interpreter in place only prints its path.
set -euo pipefail
ROOT=${1:-/opt/python3.14}
PY=$ROOT/bin/python3.14
if [ -x "$PY" ] && "$PY" -c 'import aiohttp, concurrent.futures as f; f.InterpreterPoolExecutor' 2>/dev/null; then
  echo "$PY"; exit 0
fi
mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
A=$ROOT/apt
mkdir -p $A/etc/sources.list.d $A/etc/preferences.d $A/lists/partial $A/cache/archives/partial $ROOT/debs $ROOT/root $ROOT/tools $ROOT/bin
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror sid main" > $A/etc/sources.list
cat > $A/apt.conf <<C
Dir::Etc::sourcelist "$A/etc/sources.list";
Dir::Etc::sourceparts "$A/etc/sources.list.d";
Dir::Etc::preferencesparts "$A/etc/preferences.d";
Dir::State::lists "$A/lists";
Dir::Cache "$A/cache";
Dir::State::status "/var/lib/dpkg/status";
APT::Architecture "amd64";
C
export APT_CONFIG=$A/apt.conf
apt-get update -qq
cd $ROOT/debs
apt-get download -qq python3.14 python3.14-minimal libpython3.14-minimal libpython3.14-stdlib libpython3.14 \
  libc6 libssl3t64 libffi8 libsqlite3-0 libexpat1 zlib1g libbz2-1.0 liblzma5 libzstd1 libncursesw6 libtinfo6 \
  libreadline8t64 libuuid1 libgcc-s1 media-types 2>/dev/null
for d in *.deb; do dpkg-deb -x "$d" $ROOT/root; done
unset APT_CONFIG
python3 -m pip install -q --target $ROOT/tools patchelf   # a static binary in a wheel
L=$ROOT/root/usr/lib/x86_64-linux-gnu
$ROOT/tools/bin/patchelf --set-interpreter $L/ld-linux-x86-64.so.2 --force-rpath --set-rpath $L $ROOT/root/usr/bin/python3.14
ln -sf $ROOT/root/usr/bin/python3.14 $PY
site=$ROOT/root/usr/lib/python3/dist-packages   # on the interpreter's own sys.path
mkdir -p "$site"
python3 -m pip download -q --only-binary=:all: --python-version 3.14 --implementation cp --abi cp314 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
  -d $ROOT/whl aiohttp
python3 -m pip install -q --no-deps --target "$site" --python-version 3.14 --only-binary=:all: \
  --implementation cp $ROOT/whl/*.whl
"$PY" -c 'import aiohttp, sys; from concurrent.futures import InterpreterPoolExecutor' >/dev/null
echo "$PY"
