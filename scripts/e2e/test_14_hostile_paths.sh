#!/bin/bash
# The postgres user swaps paths pgha manages for links to root's files (its archive directory,
# its .pgpass): plan shows each as ✗ naming the path, apply changes nothing anywhere, and no
# link target changes owner, mode or content. Then: no secret of pgha's in any data directory or
# server log, nor in the postmaster's environment. On the cluster of test_10_apply.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
plan() { set +e; out=$("$pgha" plan specs/testbed.yaml -i inventory/testbed.yaml 2>&1); rc=$?; set -e; }
expect() { grep -qE "$1" <<<"$out" || fail "the plan does not show $2: $out"; }
as_postgres() { on "$1" "cd / && runuser -u postgres -- sh -c '$2'"; }
plan
[ "$rc" = 0 ] || fail "the cluster is not converged before the test: $out"

archive=/var/lib/postgresql/15/archive home=/var/lib/postgresql
on node2 "mkdir -p /etc/pgha-victim && chmod 755 /etc/pgha-victim && echo keep > /etc/pgha-victim/file && chmod 640 /etc/pgha-victim/file"
before=$(on node2 "stat -c '%a %U %G' /etc/pgha-victim /etc/pgha-victim/file /etc/shadow; sha256sum /etc/shadow /etc/pgha-victim/file")
as_postgres node2 "mv $archive $archive.real && ln -s /etc/pgha-victim $archive && mv $home/.pgpass $home/.pgpass.real && ln -s /etc/shadow $home/.pgpass"
# Whatever happens below, the next tests find the cluster as it was.
restore() {
  as_postgres node2 "[ ! -L $archive ] || { rm $archive && mv $archive.real $archive; }; [ ! -L $home/.pgpass ] || { rm $home/.pgpass && mv $home/.pgpass.real $home/.pgpass; }" || true
  on node2 "rm -rf /etc/pgha-victim" || true
}
trap restore EXIT

plan
[ "$rc" = 1 ] || fail "plan with links planted exited $rc: $out"
expect "✗ directories +cannot be applied: $archive is a symbolic link \(owned by postgres\)" "the archive link"
expect "✗ pgpass +cannot be applied: $home/.pgpass is a symbolic link; pgha never writes through one" "the .pgpass link"
grep -qE 'root:[^ ]*:[0-9]+:' <<<"$out" && fail "the plan shows /etc/shadow's content read through a link: $out"
set +e
applied=$("$pgha" apply specs/testbed.yaml -i inventory/testbed.yaml --yes 2>&1); arc=$?
set -e
[ "$arc" = 1 ] || fail "apply with links planted exited $arc: $applied"
grep -q "Nothing was changed" <<<"$applied" || fail "apply did not refuse as a whole: $applied"
after=$(on node2 "stat -c '%a %U %G' /etc/pgha-victim /etc/pgha-victim/file /etc/shadow; sha256sum /etc/shadow /etc/pgha-victim/file")
[ "$before" = "$after" ] || fail "a link target changed: before
$before
after
$after"
[ -z "$(on node2 "ls -A /etc/pgha-victim | grep -v '^file$'" || true)" ] || fail "something was written into the link's target"
restore
plan
[ "$rc" = 0 ] || fail "plan after removing the links exited $rc: $out"

# Secrets: the replication password is in no data directory or server log (the seed profile
# logs every statement), and the postmaster's environment holds none of pgha's variables.
for n in node1 node2 node3; do
  if on "$n" "grep -rlF -- '$PGHA_REPLICATION_PASSWORD' /var/lib/postgresql/15/pgha /var/log/postgresql $home/pgha-bootstrap.log 2>/dev/null"; then
    fail "$n: the replication password is in the files above"
  fi
  pid=$(on "$n" "head -1 /var/lib/postgresql/15/pgha/postmaster.pid")
  if on "$n" "tr '\0' '\n' < /proc/$pid/environ | grep -E '^PGHA_|$PGHA_HACLUSTER_PASSWORD'"; then
    fail "$n: the postmaster's environment holds the variables above"
  fi
done
echo "links refused and left alone; no secret in data directories, logs or the postmaster's environment"
