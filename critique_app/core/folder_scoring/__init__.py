"""Folder scoring: every photo of a folder scored and measured, cached, rated."""
