"""The lake package: storage, the Delta tables, the file schema, other engines reading it."""
