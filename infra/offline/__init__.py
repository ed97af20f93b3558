"""The offline engine: the real program run without the Pulumi CLI, and the pack judging it.

- `engine`: the recording mock engine (every resource the program declares, secrets redacted);
- `render`: a recording as files (`rampart render`) and its summary;
- `evaluate`: the policy pack's pulumi-policy policies called as the analyzer calls them;
- `locate`, `report`: each outcome located at the file line that caused it, as one `Report`;
- `reporters`: text, JSON, SARIF and Markdown, one module each;
- `outdir`: the manifest-guarded output directory every writer uses.

May import: infra.stack, infra.program, infra.secrets (the render stand-in provider) and the
policy pack; the CLI and the demo import this package, never the other way round.
"""
