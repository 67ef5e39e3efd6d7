#!/bin/bash
# Issue 15: seed 004's design (topology pgpool) on Debian 13 hosts — pgpool-II 4.6, PostgreSQL 17;
# the same checks as test_40_pgpool.sh.
PGHA_E2E_PGPOOL_OS=debian-13 exec bash "$(dirname "$0")/test_40_pgpool.sh"
