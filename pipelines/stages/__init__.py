"""The item-pipeline stages, in the order items pass: clean, dedupe, classify, store."""
