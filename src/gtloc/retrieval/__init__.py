"""Galleries (GPS, time, image), encoded once and cached, and the search over them."""
