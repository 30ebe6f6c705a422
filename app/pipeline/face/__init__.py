"""Faces: detection, face-mesh landmarks (mediapipe's model files run with LiteRT) and tracking across frames."""
