"""HTTP edge and composition root: the only package that wires all the others."""
