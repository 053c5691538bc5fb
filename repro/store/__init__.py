"""The cache of results: keys that follow every input of a result (keys), and the result files
themselves, written atomically and read back checked (results)."""
