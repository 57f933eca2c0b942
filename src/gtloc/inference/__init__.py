"""Prediction, retrieval, text queries and verification with a trained model."""
