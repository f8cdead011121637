"""What makes two articles the same: canonical URLs, text fingerprints, near-duplicate stories."""
