#!/usr/bin/env bash
# Qt's offscreen platform still loads a few system libraries (fontconfig, xkbcommon, EGL/GL);
# the session-report test renders a report in headless Chromium. Install what is missing when
# we are allowed to; otherwise say what is missing (the Chromium test then skips with a reason).
set -u
missing=()
pkgs=()
for pair in libfontconfig.so.1:libfontconfig1 libxkbcommon.so.0:libxkbcommon0 libEGL.so.1:libegl1 \
    libGL.so.1:libgl1 libdbus-1.so.3:libdbus-1-3; do
    ldconfig -p | grep -q "${pair%%:*}" || { missing+=("${pair%%:*}"); pkgs+=("${pair##*:}"); }
done
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
    missing+=("chromium"); pkgs+=("chromium")
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing system packages: ${pkgs[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}") \
        >/dev/null || echo "warning: could not install ${pkgs[*]}; some tests may skip or fail" >&2
else
    echo "warning: missing ${missing[*]}; install: sudo apt-get install ${pkgs[*]}" >&2
fi
exit 0
