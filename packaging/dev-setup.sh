#!/usr/bin/env bash
# Installs what building and testing netloom needs on Debian 12, and nothing when it is all
# there already: C tools for the bundled libyang, the YANG linters, a Python venv (.venv)
# with the Python clients the end-to-end tests drive.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(build-essential cmake pkg-config libpcre2-dev libyang2-tools python3-venv iproute2 iputils-ping containernetworking-plugins curl openssh-client strace)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "dev-setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

python_packages=(pyang==2.7.1 pygnmi==0.8.15 ncclient==0.6.19 requests==2.32.3 netconf-console2==3.0.1 six==1.17.0)
# The import name of each package above, to tell whether the venv is complete.
python_modules=(pyang pygnmi ncclient requests netconf_console six)
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import $(IFS=,; echo "${python_modules[*]}")" 2>/dev/null; then
  echo "dev-setup: installing ${python_packages[*]} into .venv"
  .venv/bin/pip install -q --disable-pip-version-check "${python_packages[@]}"
fi
