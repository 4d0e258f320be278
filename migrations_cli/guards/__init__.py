"""The guards: lint, code sums of migration files, schemas compared (models with a
database, a database with its history, two databases), and the production guard."""
