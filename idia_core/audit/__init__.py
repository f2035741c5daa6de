"""What people read and re-check: explanations and charts of a verdict, evidence bundles and their
verification, and evaluation over many people with known membership (metrics, datasets, the
pipeline and its report, the sandbox's ground-truth evaluation)."""
