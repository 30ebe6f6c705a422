"""Faces: detection, face-mesh landmarks (LiteRT), tracking across frames, the speaker of each shot."""
