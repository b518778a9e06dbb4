"""Pure renderers of the objects the operator owns."""
