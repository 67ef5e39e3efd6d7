#!/usr/bin/env bash
# The pgha command line as a user meets it: exit codes, file:line:column errors, no crash or
# stack trace on bad input, rendered files with their modes. Needs no test bed.
set -euo pipefail
cd "$(dirname "$0")/../.."
pgha=${PGHA:-.build/debug/pgha}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# run EXPECTED_RC CMD... : runs, captures output in $out, checks the exit code
run() {
  local want=$1; shift
  set +e; out=$("$@" 2>&1); rc=$?; set -e
  [ "$rc" = "$want" ] || fail "$* exited $rc, wanted $want: $out"
  if grep -qE 'Fatal error|Stack dump|Backtrace|SIGSEGV|Swift runtime failure' <<<"$out"; then fail "$* crashed: $out"; fi
}

for s in seed-000 seed-001 testbed; do
  run 0 "$pgha" validate "specs/$s.yaml" -i "inventory/$s.yaml"
  grep -q "ok: cluster" <<<"$out" || fail "validate $s: $out"
done

for f in Tests/Fixtures/invalid/*.yaml; do
  run 1 "$pgha" validate "$f"
  grep -qE "^$f(:[0-9]+:[0-9]+)?: error: " <<<"$out" || fail "validate $f: no positioned error: $out"
done
run 1 "$pgha" validate Tests/Fixtures/invalid/semantic.yaml
[ "$(grep -c ': error: ' <<<"$out")" -ge 10 ] || fail "semantic.yaml: expected every problem at once: $out"

run 1 "$pgha" validate specs
grep -q "specs: error: is a directory" <<<"$out" || fail "directory: $out"
run 1 "$pgha" validate /nonexistent.yaml
head -c 2000000 /dev/urandom > "$tmp/huge.yaml"
run 1 "$pgha" validate "$tmp/huge.yaml"

# render: every file, secrets from the environment, .pgpass 0600
run 1 env -u PGHA_REPLICATION_PASSWORD "$pgha" render specs/testbed.yaml --out "$tmp/out"
grep -q "PGHA_REPLICATION_PASSWORD is not set" <<<"$out" || fail "unset secret: $out"
[ ! -e "$tmp/out" ] || fail "render wrote files although it failed"
run 0 env PGHA_REPLICATION_PASSWORD=e2e-secret "$pgha" render specs/testbed.yaml -i inventory/testbed.yaml --out "$tmp/out"
grep -q "wrote 17 files" <<<"$out" || fail "render: $out"
for n in node1 node2 node3; do
  for f in etc/hosts var/lib/postgresql/15/pgha/postgresql.conf var/lib/postgresql/15/pgha/pg_hba.conf var/lib/postgresql/.pgpass; do
    [ -s "$tmp/out/$n/$f" ] || fail "missing $n/$f"
  done
  [ "$(stat -c %a "$tmp/out/$n/var/lib/postgresql/.pgpass")" = 600 ] || fail ".pgpass mode"
done
grep -q "e2e-secret" "$tmp/out/node1/var/lib/postgresql/.pgpass" || fail ".pgpass lacks the secret"
if grep -rq "e2e-secret" "$tmp/out/cluster" "$tmp"/out/node1/etc; then fail "secret leaked into a script"; fi
bash -n "$tmp/out/cluster/pcs-setup.sh" && bash -n "$tmp/out/cluster/pcs-resources.sh" || fail "scripts are not valid bash"
diff -r <(cd "$tmp/out" && find . -type f | sort) <(cd Tests/Golden/testbed && find . -type f ! -name plan.txt | sort) >/dev/null \
  || fail "render wrote other files than the golden set"

# plan --offline
run 0 "$pgha" plan specs/testbed.yaml -i inventory/testbed.yaml --offline
grep -q "^Plan: 70 steps on 3 hosts." <<<"$out" || fail "plan: $out"
run 1 "$pgha" plan specs/testbed.yaml --offline
grep -q "needs an inventory" <<<"$out" || fail "plan without inventory: $out"
run 1 "$pgha" plan specs/testbed.yaml -i inventory/testbed.yaml --offline --format yaml
grep -q "format" <<<"$out" || fail "bad --format: $out"
run 0 "$pgha" plan specs/testbed.yaml -i inventory/testbed.yaml --offline --format json
python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d["steps"]) == 70, len(d["steps"])' <<<"$out" || fail "offline json: $out"

# an inventory that misses a node: error before any host is touched
printf 'hosts:\n  node1: {address: 10.77.0.11}\n' > "$tmp/inv.yaml"
run 1 "$pgha" validate specs/testbed.yaml -i "$tmp/inv.yaml"
grep -q "node 'node2' of specs/testbed.yaml is missing" <<<"$out" || fail "inventory coverage: $out"

# a template override with a typo is an error with template:line:column
mkdir -p "$tmp/tpl" && printf 'port = {{ pg.prot }}\n' > "$tmp/tpl/postgresql.conf.stencil"
run 1 "$pgha" validate specs/testbed.yaml --templates "$tmp/tpl"
grep -q "postgresql.conf.stencil:1:11: error: unknown variable 'pg.prot'; did you mean 'pg.port'?" <<<"$out" || fail "template typo: $out"

run 1 "$pgha" frobnicate   # usage errors exit 1 like every error (plan: 0, 2, 1)
echo "cli: all checks passed"
