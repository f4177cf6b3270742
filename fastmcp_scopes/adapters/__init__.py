"""One thin module per server framework; each depends on the core, never the other way round."""
