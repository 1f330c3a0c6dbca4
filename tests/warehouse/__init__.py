"""The warehouse: queries, rollups, top lists, restatement, Spark."""
