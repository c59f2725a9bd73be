"""Raw SQL of the programs app, one module per area; each function names its statement."""
