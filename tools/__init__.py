"""Developer tools: the example clip generator and checks of rendered clips."""
