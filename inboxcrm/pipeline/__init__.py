"""The pipeline seen whole: the board, the funnel reports and the stage settings."""
