#!/bin/bash
# The test bed's hosts are separate machines in what matters to pgha: files, host names,
# processes, network; and they can be powered off, cut off and fenced.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "${PGHA_TESTBED_UP:-1}" = 1 ] || { echo "the test bed is not up"; exit 1; }
on() { local n=$1; shift; ssh -F .testbed/ssh_config "$n" "$@"; }
fail() { echo "FAIL: $*"; exit 1; }
# reach FROM ADDRESS: a TCP connection to sshd (the hosts have no ping)
reach() { on "$1" "timeout 2 bash -c 'exec 3<>/dev/tcp/$2/22'" 2>/dev/null; }

# Host names and addresses.
for i in 1 2 3; do
  [ "$(on node$i hostname)" = "node$i" ] || fail "hostname of node$i"
  [ "$(on node$i "ip -4 -o addr show eth0 | awk '{print \$4}'")" = "10.77.0.1$i/24" ] || fail "address of node$i"
done

# Files: /etc/hosts on node1 changes neither node2 nor this machine.
marker="isolation-$$-$RANDOM"
before=$(sha256sum /etc/hosts)
on node1 "echo '10.9.9.9 $marker' >> /etc/hosts"
on node1 "grep -q $marker /etc/hosts" || fail "node1 did not keep its own change"
if on node2 "grep -q $marker /etc/hosts"; then fail "node2 sees node1's /etc/hosts"; fi
[ "$(sha256sum /etc/hosts)" = "$before" ] || fail "the machine's /etc/hosts changed"
on node1 "sed -i '/$marker/d' /etc/hosts"

# Processes: a process on node1 is invisible on node2; each host has its own PID 1.
on node1 "setsid sleep 300 >/dev/null 2>&1 < /dev/null & echo \$! > /run/isolation.pid"
on node1 "pgrep -x sleep -a | grep -q 'sleep 300'" || fail "node1 does not see its own process"
if on node2 "pgrep -a sleep | grep -q 'sleep 300'"; then fail "node2 sees node1's process"; fi
[ "$(on node2 'cat /proc/1/comm')" = tini ] || fail "node2's PID 1 is not its own init"
on node1 'kill $(cat /run/isolation.pid)'

# Network: hosts reach each other on the bed, resolve nothing outside, have no default route.
reach node1 10.77.0.12 || fail "node1 cannot reach node2"
if on node1 "getent hosts deb.debian.org >/dev/null"; then fail "node1 resolves external names"; fi
if on node1 "ip route | grep -q default"; then fail "node1 has a default route"; fi
if ip route | grep -q '10.77.0.0/24 via'; then fail "the machine routes the bed's subnet somewhere"; fi

# Power: off kills every process of the host, on boots it again from the same disk.
on node3 "echo kept > /var/lib/isolation-disk"
scripts/testbed poweroff node3 2>/dev/null
if timeout 5 ssh -F .testbed/ssh_config -o ConnectTimeout=2 node3 true 2>/dev/null; then fail "node3 still answers after poweroff"; fi
scripts/testbed poweron node3 2>/dev/null
[ "$(on node3 cat /var/lib/isolation-disk)" = kept ] || fail "node3 lost its disk across a power cycle"
on node3 "rm /var/lib/isolation-disk"

# Cut: the host is alive but unreachable, and reachable again after uncut.
scripts/testbed cut node2 2>/dev/null
if reach node1 10.77.0.12; then fail "node2 reachable while cut"; fi
scripts/testbed uncut node2 2>/dev/null
for _ in $(seq 50); do reach node1 10.77.0.12 && break; sleep 0.2; done
reach node1 10.77.0.12 || fail "node2 unreachable after uncut"

# Fencing: the agent on node1 powers node3 off, then on.
on node1 "fence_testbed -o status -n node3" | grep -q "Status: ON" || fail "fence status of node3"
on node1 "fence_testbed -o off -n node3" || fail "fence off"
scripts/testbed status | grep -q "node3 .* power=off" || fail "node3 still powered after fence off"
on node1 "fence_testbed -o on -n node3" || fail "fence on"
for _ in $(seq 100); do on node3 true 2>/dev/null && break; sleep 0.2; done
on node3 true || fail "node3 did not come back after fence on"
on node1 "fence_testbed -o metadata" | grep -q '<resource-agent name="fence_testbed"' || fail "fence metadata"
echo "isolation: files, names, processes, network, power, cut and fencing checked"
