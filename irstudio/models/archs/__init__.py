"""One file per architecture. Nothing here is imported automatically: models/catalog.py lists them."""
