#!/bin/bash
# Hosts boot like a freshly installed Debian 12 server with the cluster packages: sshd,
# Debian's default PostgreSQL cluster, Debian's default corosync.conf with pacemaker, pcsd.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "${PGHA_TESTBED_UP:-1}" = 1 ] || { echo "the test bed is not up"; exit 1; }
fail() { echo "FAIL: $*"; exit 1; }
for n in node1 node2 node3; do
  out=$(ssh -F .testbed/ssh_config "$n" '
    pg_lsclusters -h | awk "{print \$1, \$2, \$4}"
    grep -c "cluster_name: debian" /etc/corosync/corosync.conf
    ss -ltn | grep -c ":2224 " || true
    systemctl is-active pacemaker corosync pcsd | tr "\n" " "; echo
    pcs --version')
  grep -q "^15 main online" <<<"$out" || fail "$n: no running default cluster: $out"
  grep -qx 1 <<<"$(sed -n 2p <<<"$out")" || fail "$n: no default corosync.conf"
  [ "$(sed -n 3p <<<"$out")" -ge 1 ] || fail "$n: pcsd does not listen on 2224"
  grep -q "active active active" <<<"$out" || fail "$n: services: $out"
  grep -q "^0.11" <<<"$out" || fail "$n: pcs version: $out"
done
echo "services: sshd, PostgreSQL 15 main, default corosync.conf, pacemaker, pcsd 0.11 on every host"
