"""Data: the records schema, EXIF ingestion, images, feature store, samplers and the generated world."""
