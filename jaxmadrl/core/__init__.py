"""What every layer stands on: settings' bounds and errors, atomic files and locks, signals,
the numerics policy, activations and key helpers. Nothing here imports another room."""
