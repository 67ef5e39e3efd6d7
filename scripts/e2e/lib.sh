# Shared by the end-to-end tests that drive a cluster on the test bed.
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
pgha=${PGHA:-.build/debug/pgha}
export PGHA_REPLICATION_PASSWORD=${PGHA_REPLICATION_PASSWORD:-e2e-repl-$RANDOM$RANDOM}
export PGHA_HACLUSTER_PASSWORD=${PGHA_HACLUSTER_PASSWORD:-e2e-ha-$RANDOM$RANDOM}
on() { local n=$1; shift; ssh -F .testbed/ssh_config "$n" "$@"; }
# A test may define on_fail (what the bed looked like) to be printed, indented, after a failure.
fail() {
  echo "FAIL: $*"
  if declare -F on_fail >/dev/null; then { on_fail 2>&1 || true; } | sed 's/^/      | /' | tail -80; fi
  exit 1
}
[ "${PGHA_TESTBED_UP:-1}" = 1 ] || fail "the test bed is not up"

# crm_mon's XML from NODE, reduced by python to "resource role node" lines (Pacemaker 2.0's
# Master/Slave said as 2.1+ say them: Promoted/Unpromoted).
roles() {
  on "$1" "crm_mon -1 --output-as=xml" | python3 -c '
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.stdin).getroot()
names = {"Master": "Promoted", "Slave": "Unpromoted"}
for r in root.iter("resource"):
    for n in r.findall("node"):
        print(r.get("id"), names.get(r.get("role"), r.get("role")), n.get("name"))'
}
promoted() { roles "$1" | awk '$1 == "pgsql" && $2 == "Promoted" {print $3}'; }
where() { roles "$1" | awk -v r="$2" '$1 == r && $2 == "Started" {print $3}'; }
# standby_promoted ASK NODE…: exactly one instance is promoted, on one of NODE…
standby_promoted() {
  local ask=$1; shift
  local p; p=$(promoted "$ask" 2>/dev/null) || return 1
  [ "$(wc -w <<<"$p")" = 1 ] || return 1
  for n in "$@"; do [ "$p" = "$n" ] && return 0; done
  return 1
}
psql_on() { local n=$1; shift; on "$n" "cd / && runuser -u postgres -- psql -X -At -p 5432 $*"; }

# wait_for SECONDS DESCRIPTION CMD…
wait_for() {
  local seconds=$1 what=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "$what: not within ${seconds}s"
    sleep 0.5
  done
}

# exits CODE WHAT CMD…: CMD exits CODE (else its output and a failure); its output is kept in $out.
exits() {
  local code=$1 what=$2; shift 2
  set +e; out=$("$@" 2>&1); local rc=$?; set -e
  [ "$rc" = "$code" ] || { printf '%s\n' "$out"; fail "$what: exit $rc, expected $code"; }
}

# bootstrapped: the cluster of a bootstrap as crm_mon and PostgreSQL show it — node1 promoted,
# node2 and node3 unpromoted and streaming, the rw VIP on node1, the ro VIP on a standby (its
# node in $ro).
bootstrapped() {
  [ "$(promoted node1)" = node1 ] || fail "pgsql is promoted on '$(promoted node1)', not node1"
  [ "$(roles node1 | awk '$1 == "pgsql" && $2 == "Unpromoted" {print $3}' | sort | tr '\n' ' ')" = "node2 node3 " ] || fail "standbys: $(roles node1)"
  [ "$(psql_on node1 "-c \"select count(*) from pg_stat_replication where state = 'streaming'\"")" = 2 ] || fail "two standbys do not stream"
  on node1 "ip -4 addr show eth0" | grep -q "10.77.0.100/24" || fail "the rw VIP is not on node1"
  ro=$(where node1 vip-slave)
  case $ro in node2|node3) ;; *) fail "the ro VIP is on '$ro'" ;; esac
  on "$ro" "ip -4 addr show eth0" | grep -q "10.77.0.101/24" || fail "the ro VIP is not on $ro"
}
