"""What people read and re-check: explanations and charts of a verdict, evidence bundles and their
verification, evaluation over many people with known membership (metrics, datasets, the
pipeline and its report, the sandbox's ground-truth evaluation), audits of many people × many
models (locally or on Ray, resumable, shard-mergeable) and the data-side caption counts."""
