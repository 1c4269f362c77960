"""The training tasks: score, modality, ssl, personal, critic."""
