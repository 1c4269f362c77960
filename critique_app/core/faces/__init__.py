"""Faces and eyes in a photo: MediaPipe face models run with LiteRT, or OpenCV Haar cascades."""
