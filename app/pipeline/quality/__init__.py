"""The quality report of a finished output: lip-sync score and offset, face share, speech found."""
