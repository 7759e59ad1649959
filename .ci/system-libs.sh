#!/usr/bin/env bash
# Qt's offscreen platform still loads a few system libraries (fontconfig, xkbcommon, EGL/GL).
# Install them when missing and we are allowed to; otherwise say which are missing.
set -u
missing=()
for lib in libfontconfig.so.1 libxkbcommon.so.0 libEGL.so.1 libGL.so.1 libdbus-1.so.3; do
    ldconfig -p | grep -q "$lib" || missing+=("$lib")
done
[ ${#missing[@]} -eq 0 ] && exit 0
pkgs="libfontconfig1 libxkbcommon0 libegl1 libgl1 libdbus-1-3"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing system libraries for Qt: $pkgs"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs) >/dev/null \
        || echo "warning: could not install $pkgs; Qt tests may fail" >&2
else
    echo "warning: missing ${missing[*]}; install: sudo apt-get install $pkgs" >&2
fi
exit 0
