"""CamVid experiments: the training records of the shipped model and its full-length candidates,
the recipe ablation, and analyses of the shipped model (logit adjustment, test-time
augmentation). Scripts run as `python -m experiments.NAME` from the repository root and write
`experiments/results/NAME.json`; `python -m benchmarks.report` renders them into docs/camvid.md
and README.md."""
