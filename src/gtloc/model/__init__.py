"""The model: configuration, encoders, label queues, GTLoc and its losses."""
