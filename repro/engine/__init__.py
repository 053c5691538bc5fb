"""Training and evaluating one spec, no files: upstream's random streams replayed (replay), each
seed's initial model and batches (data), the training loop (train) and many seeds as one
computation (batched), the row blocks that stand in for upstream's two threads (rowsplit), and
per-colour errors and selectivity (evaluate)."""
