#!/usr/bin/env bash
# Installs, through apt, the toolchains make demo / make test need when they are
# missing: a JDK with Maven (Java binding) and Go (Go binding). Machines of this
# project's kind have them; a fresh Debian/Ubuntu box gets them here. Does
# nothing when everything is present.
set -euo pipefail
need=()
command -v javac >/dev/null 2>&1 || need+=(default-jdk-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ] || need+=(golang-go)
command -v cmake >/dev/null 2>&1 || need+=(cmake)
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing missing tools: ${need[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing ${need[*]} and no apt-get to install them; install them and run make again" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
