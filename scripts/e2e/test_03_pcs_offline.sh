#!/usr/bin/env bash
# The rendered pcs 0.11 resource script, run for real by the pcs installed here (0.11.5 on
# Debian 12) against an empty CIB file (`pcs -f`, no cluster needed): every command must be
# accepted, and the CIB must hold what seeds 000/001 build.
set -euo pipefail
cd "$(dirname "$0")/../.."
pgha=${PGHA:-.build/debug/pgha}
command -v pcs >/dev/null || { echo "pcs is not installed (scripts/install-deps installs it)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for spec in seed-000 seed-001 testbed; do
  "$pgha" render "specs/$spec.yaml" --pcs-dialect 0.11 --redact-secrets --out "$tmp/$spec" >/dev/null
  work="$tmp/$spec/cib"; mkdir -p "$work"
  cibadmin --empty > "$work/pgsql_cfg"
  # Everything between `pcs cluster cib` and `cib-push` (those two need a live cluster).
  awk '/^pcs cluster cib-push/{exit} f; /^cp pgsql_cfg/{f=1}' "$tmp/$spec/cluster/pcs-resources.sh" > "$work/commands.sh"
  if ! command -v fence_testbed >/dev/null; then
    # The test bed's fence agent lives on its hosts only; let pcs take it unverified here.
    sed -i 's/^pcs -f pgsql_cfg stonith create \(.*\) \\$/pcs -f pgsql_cfg stonith create \1 --force \\/' "$work/commands.sh"
  fi
  (cd "$work" && bash -e commands.sh > pcs.log 2>&1) || { cat "$work/pcs.log"; echo "$spec: pcs refused a command"; exit 1; }
  python3 - "$work/pgsql_cfg" "$spec" <<'PY'
import sys, xml.etree.ElementTree as ET
cib, spec = ET.parse(sys.argv[1]).getroot(), sys.argv[2]
def fail(msg): sys.exit(f"{spec}: {msg}")
conf = cib.find("configuration")
clone = conf.find("resources/clone[@id='msPostgresql']")
if clone is None: fail("no clone msPostgresql")
meta = {n.get("name"): n.get("value") for n in clone.findall("meta_attributes/nvpair")}
want = {"promotable": "true", "promoted-max": "1", "promoted-node-max": "1", "clone-max": "5", "clone-node-max": "1", "notify": "true"}
if any(meta.get(k) != v for k, v in want.items()): fail(f"clone meta {meta}")
pgsql = clone.find("primitive[@id='pgsql']")
if pgsql is None or pgsql.get("type") != "pgsql": fail("no pgsql primitive in the clone")
params = {n.get("name"): n.get("value") for n in pgsql.findall("instance_attributes/nvpair")}
if "password" in params.get("primary_conninfo_opt", ""): fail("password in the CIB")
# pcs adds the agent's own default operations (e.g. methods) to the ones we name
ops = [o for o in pgsql.findall("operations/op") if o.get("name") != "methods"]
if len(ops) != 7 or [o.get("role") for o in ops if o.get("role")] != ["Promoted"]: fail("pgsql operations")
groups = {g.get("id"): [p.get("id") for p in g.findall("primitive")] for g in conf.findall("resources/group")}
if groups != {"master-group": ["vip-master"], "slave-group": ["vip-slave"]}: fail(f"groups {groups}")
cons = conf.find("constraints")
colo = sorted((c.get("rsc"), c.get("with-rsc-role")) for c in cons.findall("rsc_colocation"))
if colo != [("master-group", "Promoted"), ("slave-group", "Unpromoted")]: fail(f"colocations {colo}")
orders = sorted((o.get("then"), o.get("first-action"), o.get("kind")) for o in cons.findall("rsc_order"))
if len(orders) != 4 or any(o.get("symmetrical") != "false" for o in cons.findall("rsc_order")): fail(f"orders {orders}")
defaults = {n.get("name"): n.get("value") for n in conf.findall("rsc_defaults/meta_attributes/nvpair")}
if defaults != {"resource-stickiness": "INFINITY", "migration-threshold": "1"}: fail(f"defaults {defaults}")
print(f"{spec}: pcs 0.11 accepted {sum(1 for _ in open(sys.argv[1].replace('pgsql_cfg','commands.sh')) if _.startswith('pcs '))} commands; CIB holds the clone, 3 primitives, 2 groups, 6 constraints")
PY
done
