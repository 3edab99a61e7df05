"""techboard: trading simulator for the tech-innovation board of a regional equity exchange."""
