"""Forms declared as data: spec loading, field types and the engine."""
