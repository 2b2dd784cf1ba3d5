"""Developer tools: the example and scene clip generators, their ground truth reader and checks."""
