"""Topics as data and the scorer that explains itself; evaluation and re-scoring."""
