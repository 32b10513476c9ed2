#!/usr/bin/env bash
# Runs every test of the workspace. Installs the system packages the integration tests drive
# (a real mosquitto broker, a real Prometheus server with promtool, Chromium with chromedriver) when they are missing, so it works on a fresh machine with Rust.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v mosquitto >/dev/null 2>&1 || missing+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || missing+=(mosquitto-clients)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
# The console's tests drive a real headless Chromium over WebDriver; the CJK font renders the
# zh-CN pages in their screenshots.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || missing+=(fonts-noto-cjk)
# Debian's python3 (not a pyenv or venv one on PATH) is the one that sees python3-aiosmtpd.
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || missing+=(python3-aiosmtpd)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cargo test --workspace "$@"
