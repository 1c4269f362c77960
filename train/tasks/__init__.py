"""What each fine-tuning task trains (score, modality, personal, ssl, critic); each task's
entry point is ``train/run_<task>.py``."""
