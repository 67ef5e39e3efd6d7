#!/bin/bash
# Every test-bed host boots like a freshly installed Debian 12 server with the cluster packages:
# sshd, Debian's default PostgreSQL 15 main cluster, Debian's default corosync.conf with
# corosync and pacemaker, pcsd on 2224, pcs 0.11. Run it on a fresh bed (before pgha apply).
set -euo pipefail
cd "$(dirname "$0")/../.."
fail() { echo "FAIL: $*"; exit 1; }
if [ "${PGHA_TESTBED_UP:-1}" != 1 ] || [ ! -f .testbed/ssh_config ]; then fail "the test bed is not up (scripts/testbed up)"; fi
mapfile -t hosts < <(awk '$1 == "Host" {print $2}' .testbed/ssh_config)
[ ${#hosts[@]} -ge 1 ] || fail "no hosts in .testbed/ssh_config"

for n in "${hosts[@]}"; do
  # One connection per host; each fact on its own line "key=value".
  out=$(ssh -F .testbed/ssh_config "$n" '
    echo "hostname=$(hostname)"
    echo "sshd=$(systemctl is-active ssh) $(ss -ltn | grep -c ":22 ")"
    echo "pg=$(pg_lsclusters -h | awk "{print \$1, \$2, \$4}" | tr "\n" ";")"
    echo "corosync_conf=$(grep -c "cluster_name: debian" /etc/corosync/corosync.conf)"
    echo "pcsd_port=$(ss -ltn | grep -c ":2224 ")"
    echo "units=$(systemctl is-active corosync pacemaker pcsd | tr "\n" " ")"
    echo "pcs=$(pcs --version)"') || fail "$n: ssh failed"
  get() { sed -n "s/^$1=//p" <<<"$out"; }
  [ "$(get hostname)" = "$n" ] || fail "$n: hostname is $(get hostname)"
  [[ $(get sshd) == "active "[1-9]* ]] || fail "$n: sshd: $(get sshd)"
  [[ ";$(get pg)" == *";15 main online;"* ]] || fail "$n: PostgreSQL clusters: $(get pg)"
  [ "$(get corosync_conf)" = 1 ] || fail "$n: no Debian default corosync.conf"
  [ "$(get pcsd_port)" -ge 1 ] || fail "$n: pcsd does not listen on 2224"
  [ "$(get units)" = "active active active " ] || fail "$n: corosync pacemaker pcsd: $(get units)"
  [[ $(get pcs) == 0.11* ]] || fail "$n: pcs --version: $(get pcs)"
done
echo "services on ${#hosts[@]} hosts: sshd, PostgreSQL 15 main online, default corosync.conf, corosync, pacemaker, pcsd :2224, pcs 0.11"
