"""The pipeline's vocabulary: stages, their kinds, stage changes and the default pipeline."""
