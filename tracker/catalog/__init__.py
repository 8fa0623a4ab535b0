"""The plan as data: parse the seed text, validate the catalog, load it into the database."""
