"""One module per stage of job code. Workflow scripts import the one they need, so a job pays only for the
libraries of its own stage (torch only where a network runs)."""
