#!/bin/bash
# Issue 15: the Pacemaker topology on Debian 11 hosts (pcs 0.10, Pacemaker 2.0, PostgreSQL 13); see platform.sh.
exec bash "$(dirname "$0")/platform.sh" debian-11
