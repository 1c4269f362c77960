"""Datasets in the formats people already have, validated before training."""
