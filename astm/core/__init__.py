"""Pure data of a run: nodes, patches, plans, results. Imports nothing else in astm but errors."""
