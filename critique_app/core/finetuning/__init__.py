"""The app's side of fine-tuning: plans, the training process's events, run folders.

Training runs as its own process (``python -m train``); the app never imports
``train``. This package builds the command lines, reads the JSON-lines events
the process prints, and finds runs on disk, without Qt, so the wizard stays a
thin shell over it.
"""
