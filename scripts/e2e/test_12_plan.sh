#!/bin/bash
# pgha plan against the live cluster of test_10_apply: exit 0 when converged, 2 with drift,
# nothing on any host changes during a plan (config checksums and the CIB epoch), JSON output,
# and a saved plan that apply uses as is, or refuses when the hosts moved since.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
plan() { set +e; out=$("$pgha" plan specs/testbed.yaml -i inventory/testbed.yaml "$@" 2>&1); rc=$?; set -e; }

plan
[ "$rc" = 0 ] || fail "plan on the converged cluster exited $rc: $out"
grep -q "^No changes: .* 1 round trip per host" <<<"$out" || fail "no-op plan: $out"
echo "no-op plan: $(tail -1 <<<"$out")"
plan --format json
[ "$rc" = 0 ] || fail "json plan exited $rc"
python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["cluster"] == "pgha-testbed" and len(d["hosts"]) == 3 and all(h["changes"] == [] for h in d["hosts"]), d' <<<"$out" \
  || fail "json plan: $out"

# Drift on a standby; the plan shows it and changes nothing.
conf=/var/lib/postgresql/15/pgha/postgresql.conf hba=/var/lib/postgresql/15/pgha/pg_hba.conf
on node2 "echo 'work_mem = 64MB' >> $conf"
state() {
  for n in node1 node2 node3; do
    on "$n" "cd /; sha256sum /etc/hosts $conf $hba /var/lib/postgresql/.pgpass /etc/corosync/corosync.conf /etc/shadow /var/lib/pcsd/known-hosts | sha256sum; stat -c %Y $conf $hba /etc/hosts; cibadmin --query | head -1 | grep -o ' admin_epoch=\"[0-9]*\" epoch=\"[0-9]*\"\| epoch=\"[0-9]*\"'; systemctl is-enabled pcsd"
  done
}
before=$(state)
plan --out /tmp/pgha-e2e-plan.json
[ "$rc" = 2 ] || fail "plan with drift exited $rc, wanted 2: $out"
grep -q "^  ~ postgresql-conf .*reload PostgreSQL" <<<"$out" || fail "the drift is not shown: $out"
grep -q "^      -work_mem = 64MB" <<<"$out" || fail "no diff line for the drift: $out"
[ "$before" = "$(state)" ] || fail "a plan changed something on the hosts"
echo "plan with drift exits 2, shows it with its diff, and left every host as it was"

# The hosts move after the plan was saved: apply refuses and names what moved.
on node2 "echo 'host all all 10.9.9.0/24 trust' >> $hba"
set +e; out=$("$pgha" apply /tmp/pgha-e2e-plan.json 2>&1); rc=$?; set -e
[ "$rc" = 1 ] || fail "apply of a stale plan exited $rc: $out"
grep -q "node2/pg-hba: not in the saved plan" <<<"$out" || fail "stale plan refusal does not name node2/pg-hba: $out"
[ "$(on node2 "grep -c 10.9.9.0 $hba")" = 1 ] || fail "the stale plan changed pg_hba.conf"

# A fresh saved plan is applied as is (no prompt), then nothing is left to do.
plan --out /tmp/pgha-e2e-plan.json
[ "$rc" = 2 ] || fail "plan exited $rc"
"$pgha" apply /tmp/pgha-e2e-plan.json > /tmp/pgha-e2e-apply-plan.log 2>&1 < /dev/null || { cat /tmp/pgha-e2e-apply-plan.log; fail "apply of the saved plan failed"; }
[ "$(on node2 "grep -c 10.9.9.0 $hba || true")" = 0 ] || fail "pg_hba.conf not repaired"
[ "$(psql_on node2 "-c \"select count(*) from pg_hba_file_rules where address = '10.9.9.0'\"")" = 0 ] || fail "pg_hba.conf not reloaded"
plan
[ "$rc" = 0 ] || fail "plan after applying the saved plan exited $rc: $out"
echo "stale saved plan refused naming node2/pg-hba; fresh saved plan applied; plan exits 0 after"
