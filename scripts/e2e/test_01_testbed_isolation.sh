#!/bin/bash
# The test bed's hosts are separate machines in what matters to pgha: files, host names,
# processes, shared memory, network; and they can be powered off and on, cut off and fenced.
# Needs the bed up with at least 3 hosts; leaves it as it found it.
set -euo pipefail
cd "$(dirname "$0")/../.."
fail() { echo "FAIL: $*"; exit 1; }
if [ "${PGHA_TESTBED_UP:-1}" != 1 ] || [ ! -f .testbed/ssh_config ]; then fail "the test bed is not up (scripts/testbed up)"; fi
on() { local n=$1; shift; ssh -F .testbed/ssh_config "$n" "$@"; }
# reach FROM ADDRESS: a TCP connection from one host to another's sshd (hosts have no ping)
reach() { on "$1" "timeout 2 bash -c 'exec 3<>/dev/tcp/$2/22'" 2>/dev/null; }
# wait_until SECONDS CMD…
wait_until() { local end=$((SECONDS + $1)); shift; until "$@" 2>/dev/null; do [ $SECONDS -lt $end ] || return 1; sleep 0.2; done; }
step() { echo "- $*"; }
# bed_status NODE: "power=… link=…" from scripts/testbed status
bed_status() { scripts/testbed status | awk -v n="$1" '$1 == n {print $3, $4}'; }

# Each host: its own name, only its own address, only its own interfaces, its own init, its
# own machine-id.
step "names, addresses, interfaces, init"
ids=""
for i in 1 2 3; do
  # shellcheck disable=SC2016 # expanded on the host
  out=$(on "node$i" 'hostname; ip -4 -o addr show eth0 | awk "{print \$4}" | tr "\n" " "; echo; ls /sys/class/net | tr "\n" " "; echo; cat /proc/1/comm; cat /etc/machine-id')
  mapfile -t f <<<"$out"
  [ "${f[0]}" = "node$i" ] || fail "node$i calls itself ${f[0]}"
  [ "${f[1]}" = "10.77.0.1$i/24 " ] || fail "node$i has addresses ${f[1]} on eth0"
  [ "${f[2]}" = "eth0 lo " ] || fail "node$i sees interfaces ${f[2]}"
  [ "${f[3]}" = tini ] || fail "node$i's PID 1 is ${f[3]}, not its own init"
  ids="$ids ${f[4]}"
done
[ "$(tr ' ' '\n' <<<"$ids" | sed '/^$/d' | sort -u | wc -l)" = 3 ] || fail "machine-ids are not distinct:$ids"
[ "$(hostname)" != node1 ] || fail "the machine itself is called node1"

step "files: /etc/hosts on node1 changes neither node2 nor the machine"
marker="isolation-$$-$RANDOM"
before=$(sha256sum /etc/hosts)
on node1 "echo '10.77.0.250 $marker' >> /etc/hosts"
on node1 "grep -q $marker /etc/hosts" || fail "node1 did not keep its own change"
if on node2 "grep -q $marker /etc/hosts"; then fail "node2 sees node1's /etc/hosts"; fi
[ "$(sha256sum /etc/hosts)" = "$before" ] || fail "the machine's /etc/hosts changed"
on node1 "sed -i '/$marker/d' /etc/hosts"
# The same for /usr: a file node1 adds there exists nowhere else.
on node1 "touch /usr/local/bin/$marker"
if on node2 "test -e /usr/local/bin/$marker"; then fail "node2 sees node1's /usr"; fi
[ ! -e "/usr/local/bin/$marker" ] || fail "the machine sees node1's /usr"
on node1 "rm /usr/local/bin/$marker"

step "processes and shared memory"
on node1 "setsid sleep 4242 >/dev/null 2>&1 < /dev/null & echo \$! > /run/$marker.pid; echo '$marker' > /dev/shm/$marker"
sleeps() { on "$1" "pgrep -a -x sleep | grep -c ' sleep 4242\$'" || true; }
[ "$(sleeps node1)" = 1 ] || fail "node1 does not see its own process"
[ "$(sleeps node2)" = 0 ] || fail "node2 sees node1's process"
if on node2 "test -e /dev/shm/$marker"; then fail "node2 sees node1's /dev/shm"; fi
[ ! -e "/dev/shm/$marker" ] || fail "the machine sees node1's /dev/shm"
[ "$(on node2 'ps -e --no-headers | wc -l')" -lt 100 ] || fail "node2 sees too many processes: not its own PID namespace?"
on node1 "kill \$(cat /run/$marker.pid); rm -f /run/$marker.pid /dev/shm/$marker"

step "network: the bed's subnet only, nothing resolves or routes outside"
reach node1 10.77.0.12 || fail "node1 cannot reach node2 on 10.77.0.12"
reach node3 10.77.0.11 || fail "node3 cannot reach node1 on 10.77.0.11"
if on node1 "getent hosts deb.debian.org"; then fail "node1 resolves external names"; fi
[ "$(on node1 'cat /etc/resolv.conf')" = "nameserver 127.0.0.1" ] || fail "node1's resolv.conf points elsewhere"
if on node1 "ip route | grep -q default"; then fail "node1 has a default route"; fi
if ip route | grep -E '^10\.77\.0\.0/24 ' | grep -qv 'dev pghabr0'; then fail "the machine routes the bed's subnet elsewhere"; fi

step "power: off kills every process of the host, on boots it again from the same disk"
on node3 "echo kept > /var/lib/isolation-$marker"
scripts/testbed poweroff node3 2>/dev/null
[[ $(bed_status node3) == "power=off "* ]] || fail "status does not show node3 off: $(bed_status node3)"
if reach node1 10.77.0.13; then fail "node3 still answers after poweroff"; fi
scripts/testbed poweron node3 2>/dev/null
[ "$(on node3 "cat /var/lib/isolation-$marker")" = kept ] || fail "node3 lost its disk across a power cycle"
on node3 "rm /var/lib/isolation-$marker; systemctl is-active ssh postgresql pcsd >/dev/null" || fail "node3 did not boot its services again"

step "cut: the host is alive but unreachable, then reachable again"
scripts/testbed cut node2 2>/dev/null
if reach node1 10.77.0.12; then fail "node2 reachable while cut"; fi
[ "$(bed_status node2)" = "power=on link=cut" ] || fail "status does not show node2 on but cut: $(bed_status node2)"
scripts/testbed uncut node2 2>/dev/null
wait_until 10 reach node1 10.77.0.12 || fail "node2 unreachable after uncut"

step "fencing: fence_testbed on node1 powers node3 off and on; Pacemaker's fencer can use it"
[ "$(on node1 'fence_testbed -o status -n node3')" = "Status: ON" ] || fail "fence status of node3"
on node1 "fence_testbed -o off -n node3" >/dev/null || fail "fence off"
[[ $(bed_status node3) == "power=off "* ]] || fail "node3 still on after fence off: $(bed_status node3)"
if on node1 "fence_testbed -o status -n node3" >/dev/null; then fail "fence status says node3 is on"; fi
on node1 "printf 'action=on\nport=node3\n' | fence_testbed" >/dev/null || fail "fence on (stdin)"
wait_until 60 on node3 true || fail "node3 did not come back after fence on"
on node1 "stonith_admin --metadata --agent fence_testbed" | grep -q '<resource-agent name="fence_testbed"' ||
  fail "Pacemaker does not see fence_testbed"
wait_until 60 on node3 'test -e /run/testbed-booted' || fail "node3 did not finish booting"
echo "isolation: names, files, processes, shared memory, network, power, cut and fencing checked"
