// PghaSpec
