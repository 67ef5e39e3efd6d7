# BEGIN pgha managed block: PostgreSQL 15 environment (seed 000 §5.2.2)
export PGPORT=5432
export PGDATA=/var/lib/postgresql/15/pgha
export PATH=/usr/lib/postgresql/15/bin:$PATH
# END pgha managed block
