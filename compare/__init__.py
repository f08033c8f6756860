"""`make compare`: reports/index.html, the side-by-side comparison of the implementations,
built from the JSON the other targets write (reports/conformance.json, reports/bench.json,
reports/fuzz/) and from the adapters' own source (the `# compare:` markers)."""
