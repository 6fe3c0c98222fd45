"""Query planning and execution: root fields, per-request loaders, joins of adapter results."""
