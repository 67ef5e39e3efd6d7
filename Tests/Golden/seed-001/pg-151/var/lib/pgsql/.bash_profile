# BEGIN pgha managed block: PostgreSQL 14 environment (seed 000 §5.2.2)
export PGPORT=5432
export PGDATA=/data/postgresql/pgdata/pg-5432
export PATH=/usr/pgsql-14/bin:$PATH
# END pgha managed block
