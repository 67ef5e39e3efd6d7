// PghaRender
