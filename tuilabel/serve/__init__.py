"""`tuilabel serve`: the labeling host (SSH, and the web later); workers reach only their portal."""
