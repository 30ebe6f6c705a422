"""MuseTalk 1.5 (`musetalk`): its published weights, audio prompts, face crop and the engine."""
