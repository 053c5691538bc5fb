"""Running experiments: one seed end to end through the cache (runner), sweeps of 60 seeds with
the Pareto front and the selected run (sweep), local and dask workers (executors), and the noise
bands that float noise alone moves each number by (sensitivity)."""
