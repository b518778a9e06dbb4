"""Host access behind narrow interfaces (interfaces.py), their real implementations, and the Host bundle."""
