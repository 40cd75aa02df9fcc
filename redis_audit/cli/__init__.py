"""The command line. Each command lives in its own module; main.py wires them together."""
