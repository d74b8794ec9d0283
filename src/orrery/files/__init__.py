"""Uploaded files: their bytes on disk, their text, and its chunks."""
