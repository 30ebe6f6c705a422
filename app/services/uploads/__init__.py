"""Receiving uploads: streaming them to disk, and checking what was received."""
