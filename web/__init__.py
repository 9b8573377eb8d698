"""The browser page: static files served by `omnivox serve` (a package only so that the
files ship inside the wheel and are found with importlib.resources)."""
