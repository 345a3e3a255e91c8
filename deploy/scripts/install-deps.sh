#!/usr/bin/env bash
# Installs what building, testing and the demo need from Debian's packages:
# ClickHouse 18.16 (server and client), protoc, zip, ZooKeeper (cluster
# tests), Alertmanager (alerting tests), Node.js (the demo's shipping
# function, the emulator's Node.js runtime, a function under AWS's
# emulator) and systemd-analyze (unit tests). Only what is missing
# is installed; as root, apt-get update runs first.
set -euo pipefail

need=()
command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/sbin/clickhouse-server ] || need+=(clickhouse-server)
command -v clickhouse-client >/dev/null 2>&1 || need+=(clickhouse-client)
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
command -v zip >/dev/null 2>&1 || need+=(zip)
# The cluster test runs ZooKeeper, the alerting test Alertmanager.
[ -f /usr/share/java/zookeeper.jar ] || need+=(zookeeper)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
# The demo's shipping function and a test under AWS's emulator are JavaScript.
command -v node >/dev/null 2>&1 || need+=(nodejs)
# deploy/systemd's test runs systemd-analyze verify and security.
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${need[*]}. Install them as root: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "Installing ${need[*]} (apt-get) ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
echo "Installed ${need[*]}."
