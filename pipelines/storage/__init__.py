"""The database: schema, migrations, the Store, and the reads the commands make."""
