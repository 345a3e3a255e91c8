SELECT count() FROM lambdascope.schema_migrations WHERE version = ?
