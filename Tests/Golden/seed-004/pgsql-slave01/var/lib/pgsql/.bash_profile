# BEGIN pgha managed block: PostgreSQL 10 environment (seed 000 §5.2.2)
export PGPORT=5432
export PGDATA=/var/lib/pgsql/10/data
export PATH=/usr/pgsql-10/bin:$PATH
# END pgha managed block
