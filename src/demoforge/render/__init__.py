"""Pictures from stored states: camera observations for datasets, grid videos of runs, scene contact sheets."""
