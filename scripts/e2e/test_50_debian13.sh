#!/bin/bash
# Issue 15: the Pacemaker topology on Debian 13 hosts (pcs 0.12, Pacemaker 3.0, PostgreSQL 17); see platform.sh.
exec bash "$(dirname "$0")/platform.sh" debian-13
