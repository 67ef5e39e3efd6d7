#!/bin/bash
# The `source` install method (seed 000) on the test bed: pgha apply builds PostgreSQL 15 from a
# source tarball on every host of a fresh bed, bootstraps the cluster on it, and a second apply
# changes nothing (no rebuild). The tarball is Debian's orig tarball of its postgresql-15 source
# package (the upstream release tarball), fetched once from the Debian mirror apt uses and cached
# in .testbed/src/. Prints a SKIP line and exits 77 (counted apart by scripts/e2e/run) when no tarball (or no build package) can be had,
# or when PGHA_E2E_SKIP_SOURCE=1. Brings the test bed down and up itself (3 hosts) and leaves it up
# with this cluster on it. Builds take minutes: three hosts compile at once on this machine's cores.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
skip() { echo "SKIP test_21_source: $*"; exit 77; }
[ "${PGHA_E2E_SKIP_SOURCE:-0}" != 1 ] || skip "PGHA_E2E_SKIP_SOURCE=1"

# 1. The tarball: cached, or fetched with apt from a private deb-src list (the machine's own apt
#    sources and lists are untouched; a fresh Debian 12 has no deb-src lines). apt checks it against
#    the signed Sources index.
cache=.testbed/src
tarball() { ls "$cache"/postgresql-15_15.*.orig.tar.bz2 2>/dev/null | sort -V | tail -1; }
if [ -z "$(tarball)" ]; then
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  apt=$cache/apt
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
  printf 'deb-src http://deb.debian.org/debian %s main\ndeb-src http://deb.debian.org/debian-security %s-security main\n' "$codename" "$codename" > "$apt/sources.list"
  opts=(-q -o "Dir::Etc::SourceList=$PWD/$apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
        -o "Dir::State::Lists=$PWD/$apt/lists" -o "Dir::Cache=$PWD/$apt/cache" -o APT::Sandbox::User=root)
  apt-get "${opts[@]}" update > "$cache/fetch.log" 2>&1 || skip "no PostgreSQL source tarball: apt-get update of deb-src failed ($(tail -1 "$cache/fetch.log"))"
  # Newest first; a mirror may lack one suite's pool (this machine's proxy answers 404 for
  # debian-security's sources), so older versions in the index are tried too.
  for v in $(apt-cache "${opts[@]}" showsrc postgresql-15 2>/dev/null | sed -n 's/^Version: //p' | sort -rV); do
    (cd "$cache" && apt-get "${opts[@]}" source --download-only "postgresql-15=$v") >> "$cache/fetch.log" 2>&1 && break
  done
  [ -n "$(tarball)" ] || skip "no PostgreSQL source tarball: fetching Debian's postgresql-15 source failed ($(grep '^E:' "$cache/fetch.log" | tail -1))"
fi
tarball=$(tarball)
[ -n "$tarball" ] || skip "no PostgreSQL source tarball in $cache (see $cache/fetch.log)"
version=$(basename "$tarball" | sed 's/^postgresql-15_\(15\.[0-9]*\)\.orig\.tar\.bz2$/\1/')
echo "tarball: $tarball ($(du -h "$tarball" | cut -f1)), PostgreSQL $version"

# 2. The build packages pgha wants on a Debian host. The hosts cannot download: like the test
#    bed's own packages, they are installed on the machine, before the bed comes up.
want="build-essential libreadline-dev zlib1g-dev bison flex libssl-dev libxml2-dev pkg-config"
missing=$(for p in $want; do dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || echo "$p"; done)
if [ -n "$missing" ]; then
  echo "installing on the machine: $missing"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing > "$cache/packages.log" 2>&1 \
    || { apt-get update -q >> "$cache/packages.log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >> "$cache/packages.log" 2>&1; } \
    || skip "cannot install the build packages on the machine ($(tail -1 "$cache/packages.log"))"
fi

# 3. A fresh bed: bare hosts (Debian's postgres user, Debian's PostgreSQL 15.x on 5432).
scripts/testbed down > /dev/null 2>&1 || true
scripts/testbed up --nodes 3 > /tmp/pgha-e2e-source-bed.log 2>&1 || { tail -20 /tmp/pgha-e2e-source-bed.log; fail "testbed up"; }
spec=.testbed/testbed-source.yaml
sed "s|^    tarball: .*|    tarball: $PWD/$tarball|" specs/testbed-source.yaml > "$spec"

start=$SECONDS
"$pgha" apply "$spec" -i inventory/testbed.yaml --yes > /tmp/pgha-e2e-source1.log 2>&1 \
  || { tail -40 /tmp/pgha-e2e-source1.log; fail "bootstrap apply (source) failed"; }
bootstrap=$((SECONDS - start))
grep -q "^Apply complete" /tmp/pgha-e2e-source1.log || fail "no completion line"
builds=$(grep -E '^ *[+~] node[0-9] postgresql-build' /tmp/pgha-e2e-source1.log | awk '{print $2, $4}')
[ "$(wc -l <<<"$builds")" = 3 ] || { cat /tmp/pgha-e2e-source1.log; fail "not three builds: $builds"; }

# 4. What each host has: the build, owned as seed 000 leaves it, the build directory gone.
for n in node1 node2 node3; do
  [ "$(on $n /opt/pg15/bin/postgres --version)" = "postgres (PostgreSQL) $version" ] || fail "$n: /opt/pg15/bin/postgres --version: $(on $n /opt/pg15/bin/postgres --version)"
  [ "$(on $n "stat -c '%U:%G %a' /opt/pg15")" = "postgres:postgres 755" ] || fail "$n: /opt/pg15 is $(on $n "stat -c '%U:%G %a' /opt/pg15")"
  on $n 'test -f "$(/opt/pg15/bin/pg_config --pkglibdir)/pg_stat_statements.so"' || fail "$n: contrib is not installed"
  if on $n "test -e /var/tmp/pgha-build-postgresql-$version"; then fail "$n: the build directory is left behind"; fi
done

# 5. The cluster's own view: promoted node1, two unpromoted, the servers run the build, streaming.
sql() { local n=$1; shift; on "$n" "cd / && runuser -u postgres -- /opt/pg15/bin/psql -X -At -p 5433 -c \"$*\""; }
[ "$(promoted node1)" = node1 ] || fail "pgsql is promoted on '$(promoted node1)', not node1"
[ "$(roles node1 | awk '$1 == "pgsql" && $2 == "Unpromoted" {print $3}' | sort | tr '\n' ' ')" = "node2 node3 " ] || fail "standbys: $(roles node1)"
for n in node1 node2 node3; do
  running=$(sql $n "select version()")  # Debian's own build says "PostgreSQL 15.x (Debian 15.x-…) on …"
  [[ $running == "PostgreSQL $version on "* ]] || fail "$n runs $running"
  on $n "ps -eo args" | grep -q "^/opt/pg15/bin/postgres -D /var/lib/pgsql-src/15/data" || fail "$n: no postgres from /opt/pg15"
done
wait_for 30 "two standbys streaming" bash -c "[ \"\$(ssh -F .testbed/ssh_config node1 \"cd / && runuser -u postgres -- /opt/pg15/bin/psql -X -At -p 5433 -c \\\"select count(*) from pg_stat_replication where state = 'streaming'\\\"\")\" = 2 ]"
on node1 "ip -4 addr show eth0" | grep -q "10.77.0.100/24" || fail "the rw VIP is not on node1"

# 6. A second apply: nothing to change, no rebuild.
start=$SECONDS
"$pgha" apply "$spec" -i inventory/testbed.yaml --yes > /tmp/pgha-e2e-source2.log 2>&1 || { cat /tmp/pgha-e2e-source2.log; fail "re-apply failed"; }
reapply=$((SECONDS - start))
grep -q "^No changes" /tmp/pgha-e2e-source2.log || { cat /tmp/pgha-e2e-source2.log; fail "re-apply wanted changes"; }

echo "builds (3 hosts at once on $(nproc) cores): $(tr '\n' ' ' <<<"$builds")"
echo "bootstrap from bare hosts ${bootstrap}s, builds included; no-op re-apply: No changes, no rebuild ($(grep -o 'in [0-9.]* s' /tmp/pgha-e2e-source2.log), ${reapply}s with process start)"
echo "node1 promoted, node2 node3 unpromoted and streaming; every host runs /opt/pg15/bin/postgres $version (postgres:postgres 755)"
