"""Live logs of a running sweep, written on the host between chunks: a tidy CSV file, TensorBoard
event files and a Weights & Biases run (``live``). The compiled program never sees them."""
